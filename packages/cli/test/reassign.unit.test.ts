// `reassign …`, `topics alter`, `configs …` and `local add-broker` end to end through run(argv, io),
// against the client's fake cluster acting as the controller does for reassignments and configs
// (`applyReassignments`). The moves themselves, on real processes: packages/e2e/test/reassign-cli.int.test.ts.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run, type CliIo } from '../src/index.ts';
import { FakeCluster } from '../../client/test/fake-cluster.ts';

async function cli(argv: string[], extra: Partial<CliIo> = {}): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: {}, ...extra });
  return { code, out, err };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-reassign-cli-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function planFile(partitions: unknown[]): string {
  const file = join(dir, 'plan.json');
  writeFileSync(file, JSON.stringify({ version: 1, partitions }));
  return file;
}

describe('usage errors (no cluster)', () => {
  it.each([
    [['reassign', 'generate', '--brokers', '0,1'], /--topics is required/],
    [['reassign', 'generate', '--topics', 'demo'], /--brokers is required/],
    [['reassign', 'generate', '--topics', 'demo', '--brokers', '0,x'], /--brokers entry must be an integer, got "x"/],
    [['reassign', 'execute'], /missing FILE/],
    [['reassign', 'execute', '/nonexistent/plan.json'], /cannot read the plan file '\/nonexistent\/plan.json': ENOENT/],
    [['reassign', 'execute', 'plan.json', '--throttle', '0'], /--throttle must be an integer >= 1, got 0/],
    [['topics', 'alter', 'demo'], /--partitions is required/],
    [['configs', 'describe'], /give exactly one of --topic NAME or --broker ID/],
    [['configs', 'alter', '--topic', 'demo', '--broker', '1', '--set', 'a=b'], /give exactly one of --topic NAME or --broker ID/],
    [['configs', 'alter', '--topic', 'demo'], /nothing to change: give --set k=v or --delete k/],
    [['configs', 'alter', '--topic', 'demo', '--set', 'retention.ms'], /--set wants k=v, got 'retention.ms'/],
    [['brokers', 'decommission', 'five'], /broker ID must be an integer, got "five"/],
    [['reassign'], /'reassign' needs a subcommand: generate, execute, status, cancel/],
  ])('%j -> exit 2 with one line', async (argv, message) => {
    const r = await cli(argv as string[], { env: { TRIBUTARY_BOOTSTRAP: '127.0.0.1:1' } });
    expect(r.err).toEqual([expect.stringMatching(message)]);
    expect(r.code).toBe(2);
  });

  it('local add-broker without a running cluster says so, exit 1', async () => {
    const r = await cli(['local', 'add-broker', '--data-dir', join(dir, 'none')]);
    expect(r).toMatchObject({ code: 1, err: [expect.stringMatching(/no local cluster/)] });
  });
});

describe('against a cluster', () => {
  let cluster: FakeCluster;
  let b: string;
  beforeEach(async () => {
    // Racks by id: rack-1 = 0, 2; rack-2 = 1, 3. demo: [0,1] [1,2] [2,3] [3,0], every partition in both racks.
    cluster = await FakeCluster.start(4);
    cluster.applyReassignments = true;
    cluster.createTopic('demo', 4);
    b = cluster.bootstrap[0]!;
  });
  afterEach(async () => {
    await cluster.close();
  });
  const changes = () => cluster.adminCalls.filter((c) => c.op === 'alter-partition-reassignments' || c.op === 'alter-configs' || c.op === 'create-partitions');

  it('generate: no move for a balanced, rack-aware topic; a plan moving the fewest replicas off a broker left out', async () => {
    const same = await cli(['reassign', 'generate', '--topics', 'demo', '--brokers', '0,1,2,3', '--bootstrap', b]);
    expect(same.code).toBe(0);
    expect(JSON.parse(same.out[0]!)).toEqual({ version: 1, partitions: [] });
    expect(same.err[0]).toMatch(/^no replica needs to move/);

    cluster.createTopic('t', 4);
    const file = join(dir, 'out.json');
    const off = await cli(['reassign', 'generate', '--topics', 't', '--brokers', '0,1,2', '--output', file, '--bootstrap', b]);
    expect(off.code).toBe(0);
    expect(off.out[0]).toBe('2 partitions to reassign: 2 replicas to copy, 1 preferred-leader change');
    expect(off.out.at(-1)).toBe(`wrote the plan to ${file}; start it with: tributary reassign execute ${file}`);
    // B1 is alone in rack-2, so every partition needs it: the band cannot be met, and the plan says so.
    expect(off.out.some((l) => l.startsWith('warning: t: the racks allow no placement with B1 within 2-3 replicas'))).toBe(true);
    const json = JSON.parse((await cli(['reassign', 'generate', '--topics', 't', '--brokers', '0,1,2', '--json', '--bootstrap', b])).out[0]!);
    expect(json).toMatchObject({ version: 1, moves: 2, current: { version: 1, partitions: [expect.anything(), expect.anything()] } });
    expect(json.partitions.every((e: { replicas: number[] }) => !e.replicas.includes(3) && e.replicas.includes(1))).toBe(true);
    expect(changes()).toEqual([]);

    const unknown = await cli(['reassign', 'generate', '--topics', 'demo', '--brokers', '0,1,9', '--bootstrap', b]);
    expect(unknown).toMatchObject({ code: 1, err: ['error: INVALID_REPLICA_ASSIGNMENT: --brokers names broker 9, not registered (registered: 0, 1, 2, 3)'] });
    const noTopic = await cli(['reassign', 'generate', '--topics', 'nope', '--brokers', '0,1', '--bootstrap', b]);
    expect(noTopic.err).toEqual([expect.stringMatching(/^error: UNKNOWN_TOPIC_OR_PARTITION: topic 'nope' does not exist/)]);
  });

  it('execute refuses a bad plan whole, naming every problem, and changes nothing', async () => {
    cluster.reassignments.push({ topic: 'demo', partition: 3, replicas: [3, 0], addingReplicas: [], removingReplicas: [] });
    const file = planFile([
      { topic: 'demo', partition: 0, replicas: [0, 2] },
      { topic: 'demo', partition: 1, replicas: [1, 99] },
      { topic: 'demo', partition: 2, replicas: [2, 2] },
      { topic: 'demo', partition: 3, replicas: [3, 1] },
      { topic: 'demo', partition: 0, replicas: [0, 1, 2, 3, 0] },
    ]);
    const r = await cli(['reassign', 'execute', file, '--throttle', '1000', '--bootstrap', b]);
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^error: INVALID_REPLICA_ASSIGNMENT: .*plan.json: 4 problems, nothing was changed: /);
    expect(r.err[0]).toContain('demo-1 names broker 99, not registered (registered: 0, 1, 2, 3)');
    expect(r.err[0]).toContain('demo-2 names broker 2 twice in [2,2]');
    expect(r.err[0]).toContain('demo-3 is already being reassigned');
    expect(r.err[0]).toContain('demo-0 appears more than once in the plan');
    expect(changes()).toEqual([]);
    const json = await cli(['reassign', 'execute', planFile([{ topic: 'demo', partition: 0, replicas: [0, 1, 2, 3, 0] }]), '--json', '--bootstrap', b]);
    expect(JSON.parse(json.err[0]!)).toEqual({
      error: { code: 'INVALID_REPLICATION_FACTOR', message: expect.stringContaining('demo-0 asks for 5 replicas but only 4 brokers are registered') },
    });
    expect(changes()).toEqual([]);
  });

  it('execute --throttle sets the lists and rates first, status reports progress and removes the throttle once done, cancel undoes', async () => {
    cluster.brokerDynamicConfigs.set(3, { 'follower.replication.throttled.rate': 1024 }); // set by hand, named by no list: never touched
    const file = planFile([
      { topic: 'demo', partition: 0, replicas: [2, 1] },
      { topic: 'demo', partition: 1, replicas: [1, 2] },
    ]);
    const r = await cli(['reassign', 'execute', file, '--throttle', '50000000', '--bootstrap', b]);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([
      'started reassigning 1 partition: demo-0 -> [2,1]',
      'already as planned: demo-1',
      "throttled at 50.0 MB/s (50000000 B/s): leader and follower rates on brokers 0, 1, 2, the moving replicas listed in demo's throttled-replica configs",
      "follow it with 'tributary reassign status' (once every move is done it removes the throttle); undo it with 'tributary reassign cancel'",
    ]);
    expect(changes().map((c) => [c.op, c.body])).toEqual([
      [
        'alter-configs',
        {
          resource: { topic: 'demo' },
          set: { 'leader.replication.throttled.replicas': '0:0,0:1', 'follower.replication.throttled.replicas': '0:2' },
          delete: [],
        },
      ],
      ...[0, 1, 2].map((broker) => [
        'alter-configs',
        { resource: { broker }, set: { 'leader.replication.throttled.rate': 50_000_000, 'follower.replication.throttled.rate': 50_000_000 }, delete: [] },
      ]),
      ['alter-partition-reassignments', { partitions: [{ topic: 'demo', partition: 0, replicas: [2, 1] }] }],
    ]);

    const moving = await cli(['reassign', 'status', '--interval-ms', '20', '--bootstrap', b]);
    expect(moving.code).toBe(0);
    expect(moving.out[0]).toMatch(/^1 partition being reassigned: .* copied/);
    expect(moving.out[2]).toMatch(/^demo-0\s+2,1\s+2\s+0\s+B0\s/);
    expect(cluster.topicConfigs.get('demo')).toMatchObject({ 'follower.replication.throttled.replicas': '0:2' });
    const again = await cli(['reassign', 'execute', file, '--bootstrap', b]);
    expect(again.err[0]).toMatch(/REASSIGNMENT_IN_PROGRESS: .*demo-0 is already being reassigned to \[2,1\]/);

    cluster.completeReassignments();
    const done = await cli(['reassign', 'status', file, '--json', '--bootstrap', b]);
    expect(JSON.parse(done.out[0]!)).toMatchObject({
      done: true,
      partitions: [],
      plan: [
        { topic: 'demo', partition: 0, state: 'done', replicas: [2, 1] },
        { topic: 'demo', partition: 1, state: 'done', replicas: [1, 2] },
      ],
      throttleRemoved: { topics: ['demo'], brokers: [0, 1, 2] },
    });
    expect(cluster.topicConfigs.get('demo')).toEqual({});
    expect([0, 1, 2].map((id) => cluster.brokerDynamicConfigs.get(id))).toEqual([{}, {}, {}]);
    expect(cluster.brokerDynamicConfigs.get(3)).toEqual({ 'follower.replication.throttled.rate': 1024 });

    // A move that finishes after status sampled it but before the throttle clean-up read the
    // reassignments: the same answer says done and that the throttle is gone.
    await cli(['reassign', 'execute', planFile([{ topic: 'demo', partition: 1, replicas: [1, 3] }]), '--throttle', '1000', '--bootstrap', b]);
    const listed = cluster.adminCalls.filter((c) => c.op === 'list-partition-reassignments').length;
    // Status lists the moves twice (two samples), then the clean-up lists them: the move ends in between.
    cluster.beforeListReassignments = (calls) => {
      if (calls === listed + 3) cluster.completeReassignments();
    };
    const racing = await cli(['reassign', 'status', '--json', '--interval-ms', '10', '--bootstrap', b]);
    cluster.beforeListReassignments = undefined;
    expect(JSON.parse(racing.out[0]!)).toMatchObject({ done: true, partitions: [], throttleRemoved: { topics: ['demo'] } });
    expect(cluster.topicConfigs.get('demo')).toEqual({});

    // Cancel: back to the lists from before, throttle removed.
    await cli(['reassign', 'execute', planFile([{ topic: 'demo', partition: 2, replicas: [0, 3] }]), '--throttle', '1000', '--bootstrap', b]);
    expect(cluster.partition('demo', 2).replicas).toEqual([0, 3, 2]);
    const cancel = await cli(['reassign', 'cancel', '--bootstrap', b]);
    expect(cancel.out).toEqual(['demo-2: cancelled', 'removed the reassignment throttle: lists of demo; rates of brokers 0, 2, 3']);
    expect(cluster.partition('demo', 2).replicas).toEqual([2, 3]);
    expect((await cli(['reassign', 'cancel', '--bootstrap', b])).out).toEqual(['no reassignment in progress to cancel']);
  });

  it('watch shows a move in the table (P0+ on the broker being added, P0- on the one leaving) and its copy progress', async () => {
    cluster.topics.get('demo')![0]!.logEndOffset = 0;
    await cli(['reassign', 'execute', planFile([{ topic: 'demo', partition: 0, replicas: [2, 1] }]), '--bootstrap', b]);
    const frame = await cli(['watch', 'demo', '--iterations', '1', '--bootstrap', b]);
    expect(frame.code).toBe(0);
    expect(frame.out).toContain('demo  partitions 4  replication-factor 2  min.insync.replicas 2');
    expect(frame.out).toContain('  rack-1/B0  leads P0-  follows P3');
    expect(frame.out).toContain('  rack-1/B2  leads P2   follows P0+ P1');
    // The fake's leaders report every replica caught up: copied, waiting to join the ISR.
    expect(frame.out).toContain('1 partition being reassigned: 0 B of 0 B copied (100.0%), ETA 0 s');
    expect(
      frame.out.some((l) =>
        /^ {2}demo-0 +2,1 +2 +0 +B0 +0 B \/ 0 B +100\.0% +0 s +copied; completes once the leader adds the new replicas to the ISR$/.test(l),
      ),
    ).toBe(true);
    const json = JSON.parse((await cli(['watch', 'demo', '--iterations', '1', '--json', '--bootstrap', b])).out[0]!);
    expect(json.reassignments.partitions).toEqual([expect.objectContaining({ topic: 'demo', partition: 0, adding: [2], removing: [0] })]);
  });

  it('topics alter grows a topic; fewer partitions are refused with INVALID_PARTITIONS and change nothing', async () => {
    const grown = await cli(['topics', 'alter', 'demo', '--partitions', '6', '--bootstrap', b]);
    expect(grown.code).toBe(0);
    expect(grown.out[0]).toBe("topic 'demo' now has 6 partitions (4 before)");
    expect(grown.out.slice(1)).toEqual([expect.stringMatching(/^ {2}P4: replicas/), expect.stringMatching(/^ {2}P5: replicas/)]);
    const fewer = await cli(['topics', 'alter', 'demo', '--partitions', '2', '--bootstrap', b]);
    expect(fewer).toMatchObject({
      code: 1,
      err: [
        expect.stringMatching(/^error: INVALID_PARTITIONS: .* — partitions can be added, never removed \(as in Kafka\): give a count above the current one$/),
      ],
    });
    expect(cluster.topics.get('demo')).toHaveLength(6);
  });

  it('configs describe and alter a topic or a broker', async () => {
    const d = await cli(['configs', 'describe', '--topic', 'demo', '--bootstrap', b]);
    expect(d.out).toEqual(["configs of topic 'demo'", 'NAME          VALUE  SOURCE', 'retention.ms  1000   set']);
    const a = await cli([
      'configs',
      'alter',
      '--broker',
      '2',
      '--set',
      'leader.replication.throttled.rate=2048',
      '--delete',
      'follower.replication.throttled.rate',
      '--bootstrap',
      b,
    ]);
    expect(a.code).toBe(0);
    expect(cluster.adminCalls.at(-1)).toEqual({
      op: 'alter-configs',
      body: { resource: { broker: 2 }, set: { 'leader.replication.throttled.rate': '2048' }, delete: ['follower.replication.throttled.rate'] },
    });
    expect(a.out[0]).toBe('altered broker 2:');
  });
});
