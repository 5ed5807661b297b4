// `pnpm bench` flags, parsed in one place (STYLE.md § Config) and frozen.

export const PHASES = [
  'produce',
  'produce-acks1',
  'produce-acks0',
  'consume',
  'latency',
  'latency-peer',
  'failover',
  'scaling',
  'abuse',
  'reassign',
  'rebalance',
  'kafka',
  'broker-death',
  'controller-restart',
  'broker-restart',
  'leader-change-stall',
] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchArgs {
  quick: boolean;
  /** host:port list of a running cluster; undefined starts a local one in a temp dir. */
  bootstrap: string | undefined;
  /** The launcher data dir of a running local cluster (kill, restart and RSS need its state). */
  dataDir: string | undefined;
  json: boolean;
  only: readonly Phase[];
  /** Records of the throughput phases (default 2,000,000; 200,000 with --quick). */
  records: number;
  /** Keep the temp data dir of a cluster the bench started. */
  keep: boolean;
  /** The reassign phase: MB (10^6 bytes) in the partition one of whose replicas moves (default 1000; 250 with --quick). */
  reassignMB: number;
  /** The reassign phase's throttle, MB/s (10^6 bytes) on both the leader's and the new follower's side (default 50). */
  reassignThrottleMBps: number;
  /** The broker-death phase's topic: partitions (default 10,000; 2,000 with --quick). */
  deathPartitions: number;
  /** The controller-restart phase: metadata records written before the restart (default 1,000,000; 100,000 with --quick). */
  metadataRecords: number;
  /** The controller-restart phase writes snapshots as a controller with them does (on), or none (off: a controller without). */
  metadataSnapshots: boolean;
  /** The broker-restart phase: GB (10^9 bytes) of log on the broker killed and restarted (default 10; 1 with --quick). */
  restartLogGB: number;
  /** The leader-change-stall phase: GB (10^9 bytes) in the partition whose leader is killed (default 2; 0.5 with --quick). */
  stallLogGB: number;
  /**
   * Also start a secure cluster (`local up --secure`: TLS, mutual TLS, SCRAM, ACLs) once the
   * plaintext one is stopped, and run produce and consume there as admin: the two side by side.
   * Without --only it runs produce and consume alone.
   */
  secure: boolean;
}

export const USAGE = `usage: pnpm bench [--quick] [--bootstrap host:port,…] [--data-dir DIR] [--json] [--only ${PHASES.join(',')}] [--records N] [--reassign-mb N] [--reassign-throttle-mbps N] [--death-partitions N] [--metadata-records N] [--metadata-snapshots on|off] [--restart-log-gb N] [--stall-log-gb N] [--secure] [--keep]`;

export function parseArgs(argv: readonly string[]): BenchArgs {
  let quick = false;
  let json = false;
  let keep = false;
  let secure = false;
  let onlyGiven = false;
  let bootstrap: string | undefined;
  let dataDir: string | undefined;
  let only: Phase[] = [...PHASES];
  let records: number | undefined;
  let reassignMB: number | undefined;
  let reassignThrottleMBps = 50;
  let deathPartitions: number | undefined;
  let metadataRecords: number | undefined;
  let metadataSnapshots = true;
  let restartLogGB: number | undefined;
  let stallLogGB: number | undefined;
  const positive = (flag: string, text: string): number => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer\n${USAGE}`);
    return n;
  };
  const positiveNumber = (flag: string, text: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0 || text.trim() === '') throw new Error(`${flag} must be a positive number\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--quick':
        quick = true;
        break;
      case '--json':
        json = true;
        break;
      case '--keep':
        keep = true;
        break;
      case '--secure':
        secure = true;
        break;
      case '--bootstrap':
        bootstrap = value();
        break;
      case '--data-dir':
        dataDir = value();
        break;
      case '--records':
        records = positive(flag, value());
        break;
      case '--reassign-mb':
        reassignMB = positive(flag, value());
        break;
      case '--reassign-throttle-mbps':
        reassignThrottleMBps = positive(flag, value());
        break;
      case '--death-partitions':
        deathPartitions = positive(flag, value());
        break;
      case '--metadata-records':
        metadataRecords = positive(flag, value());
        break;
      case '--restart-log-gb':
        restartLogGB = positiveNumber(flag, value());
        break;
      case '--stall-log-gb':
        stallLogGB = positiveNumber(flag, value());
        break;
      case '--metadata-snapshots': {
        const v = value();
        if (v !== 'on' && v !== 'off') throw new Error(`--metadata-snapshots must be on or off\n${USAGE}`);
        metadataSnapshots = v === 'on';
        break;
      }
      case '--only': {
        const names = value()
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        for (const n of names) if (!(PHASES as readonly string[]).includes(n)) throw new Error(`unknown phase '${n}'; phases: ${PHASES.join(', ')}`);
        only = PHASES.filter((p) => names.includes(p));
        onlyGiven = true;
        break;
      }
      case '--':
        break;
      case '--help':
      case '-h':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown argument '${arg}'\n${USAGE}`);
    }
  }
  if (secure && bootstrap !== undefined) throw new Error(`--secure starts its own clusters, one plaintext and one secure: leave out --bootstrap\n${USAGE}`);
  if (secure && !onlyGiven) only = ['produce', 'consume'];
  if (secure && !only.includes('produce') && !only.includes('consume'))
    throw new Error(`--secure compares produce and consume: --only must name one of them\n${USAGE}`);
  return Object.freeze({
    quick,
    secure,
    bootstrap,
    dataDir,
    json,
    only: Object.freeze(only),
    records: records ?? (quick ? 200_000 : 2_000_000),
    keep,
    reassignMB: reassignMB ?? (quick ? 250 : 1000),
    reassignThrottleMBps,
    deathPartitions: deathPartitions ?? (quick ? 2000 : 10_000),
    metadataRecords: metadataRecords ?? (quick ? 100_000 : 1_000_000),
    metadataSnapshots,
    restartLogGB: restartLogGB ?? (quick ? 1 : 10),
    stallLogGB: stallLogGB ?? (quick ? 0.5 : 2),
  });
}
