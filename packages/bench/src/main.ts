// `pnpm bench [--quick] [--bootstrap …] [--json] [--only phase,…]`: measures Tributary the way
// Kafka is measured (throughput, latency, failover, scaling) through the public client, against a
// local cluster it starts (or a running one), and prints a table, the hardware line and one JSON
// line. Progress goes to stderr. See packages/bench/README.md.

import { parseArgs } from './args.ts';
import { runBench } from './run.ts';

let args: ReturnType<typeof parseArgs>;
try {
  args = parseArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
try {
  await runBench(args);
  process.exit(0);
} catch (err) {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
}
