// @tributary/bench: the `pnpm bench` benchmark (throughput, latency, failover, scaling).
export { parseArgs, PHASES, USAGE } from './args.ts';
export type { BenchArgs, Phase } from './args.ts';
export { runBench } from './run.ts';
export type { BenchReport } from './run.ts';
export { latencyHistogram, median } from './stats.ts';
