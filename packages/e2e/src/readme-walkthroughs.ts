// What the README's walkthroughs must show, keyed to their commands: one table for "Try it" (the
// local cluster) and one for "Run it in Docker" (compose). readme.ts pairs each entry with the
// first README line after the previous entry's whose command it matches whole; the docs tests
// run the lines and apply the checks. Change a command in the README and its entry no longer
// matches (the plan fails, naming the entry), or still matches and must still show this.
//
// A line no entry claims must still exit 0, and nothing more is asked of it: its exit code
// already catches a broken or mistyped command, and demanding an entry for every line a writer
// adds would invite entries that check nothing. An entry that finds no line fails, though: a
// command the walkthrough's later checks depend on is gone or rewritten.
//
// The checks are what the README's comments promise, read from the command's own output
// (`topics describe --by-broker` after a kill must show B3 leading P0 and P6 and B0 fenced), not
// from a side channel, so that a passing run means a reader sees the same.

import type { StepExpectation, StepOutput } from './readme.ts';

/** The section headings, as README.md writes them. */
export const TWO_COMMANDS_HEADING = 'The two commands';
export const TRY_IT_HEADING = 'Try it';
export const DOCKER_HEADING = 'Run it in Docker';
export const KAFKA_CLIENTS_HEADING = 'Kafka clients';

/** The command of "The two commands" that starts the cluster Try it runs against. */
export const START_COMMAND = /^pnpm install && pnpm start$/;

/** The seed's by-broker table (DESIGN.md § Placement), spaces collapsed. */
export const SEED_BY_BROKER = [
  'rack-1/B0 leads P0 P6 follows P5 P4',
  'rack-2/B3 leads P1 P7 follows P0 P6 P5',
  'rack-1/B1 leads P2 P8 follows P1 P7 P0 P6',
  'rack-2/B4 leads P3 P9 follows P2 P8 P1 P7',
  'rack-1/B2 leads P4 follows P3 P9 P2 P8',
  'rack-2/B5 leads P5 follows P4 P3 P9',
];

/**
 * After broker 0 is killed and fenced: B3, first in the ISR of P0 and P6, leads them; B0 leads
 * nothing and follows outside the ISRs of the partitions it led. Rows of B0 and B3 only: the
 * rest of the table does not change, and B0's followed partitions drop out of the ISRs over the
 * following 10 s (replica.lag.time.max.ms), which the README does not wait for.
 */
const AFTER_KILL_0 = { b3: 'rack-2/B3 leads P0 P1 P6 P7 follows P5', b0: /^rack-1\/B0 \(fenced\) leads - follows / };

/** The by-broker rows of a `topics describe --by-broker` output, spaces collapsed. */
export function byBrokerRows(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => /^rack-\d+\/B\d+\b/.test(l))
    .map((l) => l.replace(/\s+/g, ' ').trim());
}

function seedTable(out: StepOutput): string | undefined {
  const rows = byBrokerRows(out.stdout);
  return same(rows, SEED_BY_BROKER) ? undefined : `its rows are\n  ${rows.join('\n  ')}`;
}

function afterKill0(out: StepOutput): string | undefined {
  const rows = byBrokerRows(out.stdout);
  const b3 = rows.find((r) => r.startsWith('rack-2/B3 '));
  const b0 = rows.find((r) => r.startsWith('rack-1/B0 '));
  if (b3 === AFTER_KILL_0.b3 && b0 !== undefined && AFTER_KILL_0.b0.test(b0)) return undefined;
  return `B3's row is '${b3}' and B0's '${b0}'`;
}

function contains(text: string, ...wanted: (string | RegExp)[]): string | undefined {
  for (const w of wanted) {
    if (typeof w === 'string' ? !text.includes(w) : !w.test(text)) return `it does not contain ${typeof w === 'string' ? `'${w}'` : w}`;
  }
  return undefined;
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** broker.session.timeout.ms is 3 s; the controller checks and the metadata reaches every broker after. */
const FENCED_WITHIN_MS = 30_000;
const FENCED_BECAUSE = 'the README says a killed broker is fenced after 3 s (broker.session.timeout.ms), so the table is read again until it shows that';

/** Try it's context: the `pnpm start` in the foreground ("the first terminal"). */
export interface TryItContext {
  foregroundOutput(): string;
  /** Resolves with the foreground's exit code, or undefined if it is still running after `timeoutMs`. */
  foregroundExit(timeoutMs: number): Promise<number | null | undefined>;
}

export const TRY_IT: readonly StepExpectation<TryItContext>[] = [
  {
    command: /pnpm tributary topics describe demo --by-broker/,
    shows: "the seed's by-broker table (B0 leads P0 P6 and follows P5 P4, …)",
    check: seedTable,
  },
  {
    command: /seq 1 1000 \| pnpm tributary produce demo/,
    shows: '1000 records acknowledged with acks=all',
    check: (out) => contains(out.stdout, 'acknowledged 1000 records (topic demo, acks=all)'),
  },
  {
    command: /pnpm tributary consume demo --from-beginning --max-messages 1000/,
    shows: 'the 1000 records produced, 1 … 1000, each once',
    check: (out) => {
      const values = out.stdout.split('\n').filter((l) => l !== '');
      const distinct = new Set(values);
      const all = Array.from({ length: 1000 }, (_, i) => String(i + 1)).every((v) => distinct.has(v));
      if (values.length === 1000 && distinct.size === 1000 && all) return contains(out.stderr, 'consumed 1000 records');
      return `it printed ${values.length} lines, ${distinct.size} distinct${all ? '' : ', not 1 … 1000'}`;
    },
  },
  {
    command: /pnpm tributary local kill 0/,
    shows: 'broker-0 killed',
    check: (out) => contains(out.stdout, /^broker-0 killed \(pid \d+\)$/m),
  },
  {
    command: /pnpm tributary topics describe demo --by-broker/,
    shows: 'B3 leading P0 and P6 (with its own P1 P7) and B0 fenced, leading nothing',
    check: afterKill0,
    settles: { withinMs: FENCED_WITHIN_MS, because: FENCED_BECAUSE },
  },
  {
    command: /pnpm tributary local pause 3/,
    shows: 'broker-3 paused',
    check: (out) => contains(out.stdout, /^broker-3 paused \(pid \d+\)$/m),
  },
  {
    // Right after the pause B3 is not fenced yet and still leads P0 P1 P6 P7: those rows read `?`
    // at once (no leader answers for them) while the others keep their numbers; 3 s later B3 is
    // fenced and they have moved. Either is what the README describes, so either passes — but a
    // `?` for a partition whose leader is not the paused broker, or a wait, does not.
    command: /pnpm tributary topics describe demo --verbose/,
    shows: "HW, LOG-START, LEO and lag for every partition, '?' exactly where the leader is the paused B3",
    // Well under the 30 s request timeout a paused leader used to make it wait out, with room for
    // pnpm's and Node's start on a loaded machine.
    timeoutMs: 20_000,
    check: (out) => {
      const lines = out.stdout.split('\n');
      const header = lines.findIndex((l) => /^PARTITION\s+LEADER\s+EPOCH\s+REPLICAS\s+ISR\s+HW\s+LOG-START\s+LEO\s+LAG$/.test(l.trim()));
      if (header < 0) return 'it has no PARTITION … HW LOG-START LEO LAG header';
      const rows = lines
        .slice(header + 1)
        .filter((l) => l.trim() !== '')
        .map((l) => l.trim().split(/\s+/));
      if (rows.length !== 10) return `it has ${rows.length} partition rows, not 10`;
      for (const [partition, leader, , , , hw, logStart, leo, ...lag] of rows) {
        const unknown = hw === '?' && logStart === '?' && leo === '?';
        if (unknown && leader === '3' && /^leader 3 did not answer within \d+ ms$/.test(lag.join(' '))) continue;
        if (!unknown && [hw, logStart, leo].every((v) => /^\d+$/.test(v ?? ''))) continue;
        return `P${partition} (leader ${leader}) reads HW ${hw}, LOG-START ${logStart}, LEO ${leo}, LAG ${lag.join(' ')}`;
      }
      return undefined;
    },
  },
  {
    command: /pnpm tributary local resume 3 && pnpm tributary local restart 0/,
    shows: 'broker-3 resumed and broker-0 restarted (it answers /health)',
    check: (out) => contains(out.stdout, /^broker-3 resumed \(pid \d+\)$/m, /^broker-0 restarted \(pid \d+\)$/m),
  },
  {
    command: /pnpm tributary brokers set-config 4 follower\.replication\.throttled\.rate=1024/,
    shows: "broker 4's throttle set",
    check: (out) => contains(out.stdout, 'broker 4: set follower.replication.throttled.rate=1024'),
  },
  {
    command: /pnpm tributary local status/,
    shows: 'the seven processes on the default ports, each with a pid, all running',
    check: (out) => {
      const rows = out.stdout
        .split('\n')
        .filter((l) => /^(controller|broker-\d+)\s/.test(l))
        .map((l) => l.trim().split(/\s+/));
      const expected = ['controller 19090', ...[0, 1, 2, 3, 4, 5].map((i) => `broker-${i} rack-${i < 3 ? 1 : 2} ${19092 + i}`)];
      const got = rows.map((r) => r.slice(0, -2).join(' '));
      if (!same(got, expected)) return `its processes are ${JSON.stringify(got)}`;
      const bad = rows.find((r) => !/^\d+$/.test(r.at(-2)!) || r.at(-1) !== 'running');
      return bad ? `${bad[0]} is '${bad.slice(-2).join(' ')}'` : undefined;
    },
  },
  {
    command: /pnpm tributary local down/,
    shows: '7 processes stopped, and the foreground `pnpm start` saying so and exiting 0',
    check: async (out, ctx) => {
      const problem = contains(out.stdout, 'stopped 7 processes');
      if (problem) return problem;
      const code = await ctx.foregroundExit(30_000);
      if (code !== 0) return `the foreground ${code === undefined ? 'is still running 30 s later' : `exited with ${code}`}`;
      return contains(ctx.foregroundOutput(), 'the cluster was stopped (tributary local down)');
    },
  },
];

/** The lines a count command prints, as `wc -l` does (its only output). */
function countIs(out: StepOutput, n: number): string | undefined {
  const got = out.stdout.trim();
  return got === String(n) ? undefined : `it printed '${got}', not ${n}`;
}

/** "Kafka clients" (issue 19): kcat against the Kafka listeners of a fresh `pnpm start` cluster. */
export const KAFKA_CLIENTS: readonly StepExpectation<TryItContext>[] = [
  {
    command: /kcat -b localhost:9092 -L/,
    shows: "6 brokers at 127.0.0.1:9092…9097 and demo's 10 partitions, P0 led by broker 0 with replicas 0,3,1",
    check: (out) =>
      contains(
        out.stdout,
        ' 6 brokers:',
        ...[0, 1, 2, 3, 4, 5].map((i) => `broker ${i} at 127.0.0.1:${9092 + i}`),
        'topic "demo" with 10 partitions:',
        /partition 0, leader 0, replicas: 0,3,1, isrs: /,
        /partition 1, leader 3, replicas: 3,1,4, isrs: /,
      ),
  },
  { command: /seq 1 10000 \| kcat -b localhost:9092 -P -t demo -X enable\.idempotence=true -X acks=all/, shows: 'exit 0: every record delivered' },
  {
    command: /kcat -b localhost:9092 -C -t demo -o beginning -e -q \| wc -l/,
    shows: 'the 10000 records kcat wrote',
    check: (out) => countIs(out, 10_000),
  },
  { command: /seq 1 1000 \| kcat -b localhost:9092 -P -t demo -z zstd/, shows: 'exit 0: every compressed record delivered' },
  {
    command: /kcat -b localhost:9092 -G readme-group -X auto\.offset\.reset=earliest -e -q demo \| wc -l/,
    shows: 'all 11000 records, read as a member of a consumer group',
    check: (out) => countIs(out, 11_000),
  },
  {
    command: /pnpm tributary consume demo --from-beginning --max-messages 11000 \| wc -l/,
    shows: 'the bundled client reading the 11000 records kcat wrote, zstd included',
    check: (out) => countIs(out, 11_000),
  },
  {
    command: /pnpm tributary local down/,
    shows: '7 processes stopped',
    check: (out) => contains(out.stdout, 'stopped 7 processes'),
  },
];

/** The Docker block's context: the compose project the test runs it as, and a docker client. */
export interface DockerContext {
  project: string;
  docker(args: string[]): Promise<StepOutput>;
}

const SERVICES = ['controller', 'broker-0', 'broker-1', 'broker-2', 'broker-3', 'broker-4', 'broker-5', 'init'];

/** A container name of the project's service, as Compose v2 (`p-broker-3-1`) or 1.29 (`p_broker-3_1`) writes it. */
function containerName(project: string, service: string): RegExp {
  return new RegExp(`(^|\\s)${project}[-_]${service}[-_]\\d+(\\s|$)`, 'm');
}

export const DOCKER: readonly StepExpectation<DockerContext>[] = [
  {
    command: /pnpm install && pnpm build/,
    shows: 'the bundles built into dist/',
    timeoutMs: 300_000,
    check: (out) => contains(out.stdout, /^built \d+ bundles from \d+ inputs/m),
  },
  {
    command: /docker compose up -d --build/,
    shows: "every service of compose.yaml started, each volume one of the project's named ones (so that down -v removes them all)",
    timeoutMs: 600_000,
    check: async (out, ctx) => {
      const text = out.stdout + out.stderr;
      const missing = SERVICES.filter((s) => !containerName(ctx.project, s).test(text));
      if (missing.length > 0) return `it does not mention ${missing.join(', ')}`;
      const ids = (await ctx.docker(['ps', '-a', '-q', '--filter', `label=com.docker.compose.project=${ctx.project}`])).stdout
        .trim()
        .split('\n')
        .filter(Boolean);
      const mounts = await ctx.docker(['inspect', '--format', '{{.Name}}{{range .Mounts}}{{if eq .Type "volume"}} {{.Name}}{{end}}{{end}}', ...ids]);
      const anonymous = mounts.stdout
        .trim()
        .split('\n')
        .filter((l) =>
          l
            .split(' ')
            .slice(1)
            .some((v) => !v.startsWith(`${ctx.project}_`)),
        );
      return anonymous.length === 0 ? undefined : `these containers have volumes that are not the project's named ones: ${anonymous.join('; ')}`;
    },
  },
  {
    command: /docker compose logs -f init/,
    shows: "init's log to its end: 'created topic demo'",
    timeoutMs: 180_000,
    check: (out) => contains(out.stdout + out.stderr, 'init: created topic demo'),
  },
  {
    command: /pnpm tributary topics describe demo --by-broker/,
    shows: "the seed's by-broker table, from the compose cluster",
    check: seedTable,
  },
  {
    command: /docker ps --filter label=tributary\.rack=rack-2/,
    shows: "rack-2's brokers (broker-3, broker-4, broker-5) and none of rack-1's",
    check: (out, ctx) => {
      const wrong = ['broker-0', 'broker-1', 'broker-2'].filter((s) => containerName(ctx.project, s).test(out.stdout));
      const missing = ['broker-3', 'broker-4', 'broker-5'].filter((s) => !containerName(ctx.project, s).test(out.stdout));
      if (wrong.length > 0) return `it lists ${wrong.join(', ')}`;
      return missing.length === 0 ? undefined : `it does not list ${missing.join(', ')}`;
    },
  },
  { command: /docker compose kill broker-0/, shows: 'exit 0' },
  {
    command: /pnpm tributary topics describe demo --by-broker/,
    shows: 'B3 leading P0 and P6 (with its own P1 P7) and B0 fenced, leading nothing',
    check: afterKill0,
    settles: { withinMs: FENCED_WITHIN_MS, because: FENCED_BECAUSE },
  },
  { command: /docker compose start broker-0/, shows: 'exit 0' },
  {
    command: /docker compose down/,
    shows: 'no container of the project left, and its seven volumes kept',
    timeoutMs: 120_000,
    check: async (_out, ctx) => {
      const label = `label=com.docker.compose.project=${ctx.project}`;
      const containers = (await ctx.docker(['ps', '-a', '-q', '--filter', label])).stdout.trim();
      if (containers !== '') return `containers are left: ${containers.split('\n').join(' ')}`;
      const volumes = (await ctx.docker(['volume', 'ls', '-q', '--filter', label])).stdout.trim().split('\n').filter(Boolean);
      return volumes.length === 7 ? undefined : `${volumes.length} volumes are kept, not 7: ${volumes.join(' ')}`;
    },
  },
];
