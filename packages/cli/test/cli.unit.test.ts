// The CLI end to end through run(argv, io) with captured output, against the client's fake cluster.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMMANDS, run, splitCommandWords, type CliIo } from '../src/index.ts';
import { FakeCluster } from '../../client/test/fake-cluster.ts';
import { Consumer } from '@tributary/client';
import { eventually } from '@tributary/testkit';

interface Captured {
  code: number;
  out: string[];
  err: string[];
}

async function cli(argv: string[], extra: Partial<CliIo> = {}): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: {}, ...extra });
  return { code, out, err };
}

function stdin(lines: string[]): () => AsyncIterable<string> {
  return async function* () {
    yield* lines;
  };
}

describe('argument parsing and usage errors (no cluster)', () => {
  it('splits command words from flags, skipping global flag values', () => {
    expect(splitCommandWords(['--bootstrap', 'h:1', 'topics', 'describe', 'demo', '--verbose'], COMMANDS)).toEqual({
      words: ['topics', 'describe'],
      rest: ['--bootstrap', 'h:1', 'demo', '--verbose'],
    });
    expect(splitCommandWords(['produce', 'topics'], COMMANDS)).toEqual({ words: ['produce'], rest: ['topics'] });
    expect(splitCommandWords(['consume', '--partition', '2', 'demo'], COMMANDS).words).toEqual(['consume']);
  });

  it.each([
    [['topics', 'create', 'demo', '--partitions', '3'], /--replication-factor is required — see 'tributary topics create --help'/],
    [['topics', 'create', 'demo', '--partitions', 'x', '-r', '3'], /--partitions must be an integer, got "x"/],
    [['topics', 'create', 'demo', '-p', '3', '-r', '3', '--config', 'nope=1'], /unknown topic config 'nope'/],
    [['topics', 'create', 'demo', '-p', '3', '-r', '3', '--config', 'min.insync.replicas'], /--config wants k=v/],
    [
      ['topics', 'create', 'demo', '-p', '3', '-r', '3', '--config', 'cleanup.policy=compacted'],
      /config 'cleanup.policy' must be delete, compact or compact,delete/,
    ],
    [
      ['topics', 'create', 'demo', '-p', '3', '-r', '3', '--config', 'min.cleanable.dirty.ratio=2'],
      /config 'min.cleanable.dirty.ratio' must be a number between 0 and 1/,
    ],
    [['topics', 'create', '-p', '3', '-r', '3'], /missing NAME/],
    [['topics', 'describe', 'a', 'b'], /unexpected argument 'b'/],
    [['topics', 'describe', 'a', '--bogus'], /unknown option '--bogus'/],
    [['topics'], /'topics' needs a subcommand: create, list, describe, alter, delete, elect-leaders/],
    [['frobnicate'], /unknown command 'frobnicate' — see 'tributary --help'/],
    [['produce', 't', '--acks', '2'], /--acks must be all, 1 or 0/],
    [['consume', 't', '--offset', '3', '--from-beginning'], /use --from-beginning or --offset, not both/],
    [['brokers', 'set-config', '3', 'no.such=1'], /unknown broker config 'no.such'/],
    [['brokers', 'set-config', '3'], /nothing to set/],
    [['topics', 'list', '--bootstrap', 'nohost'], /--bootstrap: 'nohost' is not host:port/],
    [['consume', 't', '--group', 'g', '--offset', '3'], /--offset does not go with --group/],
    [['consume', 't', '--group', 'g', '--partition', '1'], /--partition does not go with --group: the group assigns the partitions/],
    [['consume', 't', '--client-id', 'x'], /--client-id needs --group/],
    [['consume', 't', '--group', 'g', '--session-timeout-ms', 'soon'], /--session-timeout-ms must be an integer, got "soon"/],
    [['groups'], /'groups' needs a subcommand: list, describe, reset-offsets, delete/],
    [['groups', 'describe'], /missing GROUP/],
    [['groups', 'list', '--state', 'Running'], /--state must be one of Empty, .*Stable.*, got 'Running'/],
    [['groups', 'reset-offsets', 'g', '--to-earliest'], /--topic is required/],
    [['groups', 'reset-offsets', 'g', '--topic', 't'], /say where to move the offsets: --to-earliest, --to-latest, --to-offset N or --to-datetime ISO/],
    [['groups', 'reset-offsets', 'g', '-t', 't', '--to-earliest', '--to-latest'], /use one of --to-earliest, --to-latest, --to-offset, --to-datetime/],
    [['groups', 'reset-offsets', 'g', '-t', 't', '--to-offset=-1'], /--to-offset must be an integer >= 0, got -1/],
    [
      ['groups', 'reset-offsets', 'g', '-t', 't', '--to-datetime', 'yesterday'],
      /--to-datetime must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z, got 'yesterday'/,
    ],
    [['groups', 'reset-offsets', 'g', '-t', 't', '--to-datetime', '2026-13-45'], /--to-datetime must be an ISO 8601 date-time/],
    [['local', 'up', '--log-format', 'xml'], /--log-format must be pretty or json, got 'xml' — see 'tributary local up --help'/],
  ])('%j -> exit 2 with one line', async (argv, message) => {
    const r = await cli(argv as string[], { lines: stdin([]) });
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^error: /);
    expect(r.err[0]).toMatch(message);
  });

  it('prints help for the tool, a group and a command, exit 0', async () => {
    const all = await cli(['--help']);
    expect(all.code).toBe(0);
    expect(all.out.join('\n')).toContain('topics describe');
    const group = await cli(['topics', '--help']);
    expect(group.out.join('\n')).toContain('topics create NAME --partitions N');
    const one = await cli(['consume', '--help']);
    expect(one.out[0]).toBe(
      'usage: tributary consume TOPIC [--from-beginning | --offset N] [--partition N] [--group G [--client-id ID] [--session-timeout-ms N] [--no-auto-commit]] [--max-messages N] [--timeout-ms N] [--rack R]',
    );
    expect(one.out.join('\n')).toContain('--bootstrap');
  });

  it('every command has help text', () => {
    for (const c of COMMANDS) {
      expect(c.summary.length).toBeGreaterThan(0);
      expect(c.usage.startsWith(c.path.join(' '))).toBe(true);
    }
  });

  it('says how to start the cluster when no broker answers, naming every one it tried, exit 1', async () => {
    const r = await cli(['topics', 'list', '--bootstrap', '127.0.0.1:1']);
    expect(r).toEqual({ code: 1, out: [], err: ['error: cannot reach any broker at 127.0.0.1:1 — is the cluster running? (pnpm start)'] });
    const several = await cli(['topics', 'describe', 'demo', '--by-broker', '--bootstrap', '127.0.0.1:1,127.0.0.1:2,127.0.0.1:3']);
    expect(several.err).toEqual(['error: cannot reach any broker at 127.0.0.1:1, 127.0.0.1:2, 127.0.0.1:3 — is the cluster running? (pnpm start)']);
    const json = await cli(['cluster', '--json'], { env: { TRIBUTARY_BOOTSTRAP: '127.0.0.1:1' } });
    expect(JSON.parse(json.err[0]!)).toEqual({ error: { code: 'BROKER_NOT_AVAILABLE', message: expect.stringContaining('127.0.0.1:1') } });
  });
});

describe('commands against a cluster', () => {
  let cluster: FakeCluster;
  let b: string;
  beforeEach(async () => {
    cluster = await FakeCluster.start(3);
    b = cluster.bootstrap[0]!;
  });
  afterEach(async () => {
    await cluster.close();
  });

  it('topics create, then create again fails with TOPIC_ALREADY_EXISTS', async () => {
    const r = await cli(['topics', 'create', 'demo', '--partitions', '3', '--replication-factor', '2', '--config', 'min.insync.replicas=1', '--bootstrap', b]);
    expect(r).toMatchObject({ code: 0, out: ["created topic 'demo' with 3 partitions, replication factor 2"] });
    const again = await cli(['topics', 'create', 'demo', '-p', '3', '-r', '2', '--bootstrap', b]);
    expect(again).toEqual({ code: 1, out: [], err: ["error: TOPIC_ALREADY_EXISTS: topic 'demo' already exists"] });
  });

  it('topics create takes repeated --config, a compacted topic among them, and describe shows them', async () => {
    const argv = ['topics', 'create', 'users', '-p', '1', '-r', '2', '--config', 'cleanup.policy=delete,compact', '--config', 'segment.ms=60000'];
    expect(await cli([...argv, '--bootstrap', b])).toMatchObject({ code: 0 });
    const d = await cli(['topics', 'describe', 'users', '--bootstrap', b]);
    expect(d.out[0]).toBe('topic users  partitions 1  replication-factor 2  min.insync.replicas=2 segment.ms=60000 cleanup.policy=compact,delete');
  });

  it('topics list and describe (plain, --verbose, --by-broker, --json)', async () => {
    cluster.createTopic('demo', 3);
    cluster.createTopic('other', 1);
    expect((await cli(['topics', 'list', '--bootstrap', b])).out).toEqual(['demo', 'other']);
    expect(JSON.parse((await cli(['topics', 'list', '--json', '--bootstrap', b])).out[0]!)).toEqual([
      { name: 'demo', partitions: 3, replicationFactor: 2 },
      { name: 'other', partitions: 1, replicationFactor: 2 },
    ]);
    const d = await cli(['topics', 'describe', 'demo', '--bootstrap', b]);
    expect(d.out).toEqual([
      'topic demo  partitions 3  replication-factor 2  min.insync.replicas=2',
      'PARTITION  LEADER  EPOCH  REPLICAS  ISR',
      '0          0       0      0,1       0,1',
      '1          1       0      1,2       1,2',
      '2          2       0      2,0       2,0',
    ]);
    const v = await cli(['topics', 'describe', 'demo', '--verbose', '--bootstrap', b]);
    expect(v.out[1]).toBe('PARTITION  LEADER  EPOCH  REPLICAS  ISR  HW  LOG-START  LEO  LAG');
    expect(v.out[2]).toBe('0          0       0      0,1       0,1  0   0          0    B1:0');
    const bb = await cli(['topics', 'describe', 'demo', '--by-broker', '--bootstrap', b]);
    expect(bb.out).toEqual(['rack-1/B0  leads P0  follows P2', 'rack-2/B1  leads P1  follows P0', 'rack-1/B2  leads P2  follows P1']);
    const j = JSON.parse((await cli(['topics', 'describe', 'demo', '--json', '--bootstrap', b])).out[0]!);
    expect(j.partitions[1]).toMatchObject({ partition: 1, leader: 1, replicas: [1, 2], isr: [1, 2] });
    const missing = await cli(['topics', 'describe', 'nope', '--bootstrap', b]);
    expect(missing).toMatchObject({ code: 1, err: ["error: UNKNOWN_TOPIC_OR_PARTITION: topic 'nope' does not exist — see 'tributary topics list'"] });
  });

  it('produce reads stdin lines; consume prints them back', async () => {
    cluster.createTopic('demo', 3);
    const p = await cli(['produce', 'demo', '--partition', '1', '--bootstrap', b], { lines: stdin(['one', 'two', 'three']) });
    expect(p).toMatchObject({ code: 0, out: ['acknowledged 3 records (topic demo, acks=all)'] });
    const pj = await cli(['produce', 'demo', '--key', 'k', '--json', '--bootstrap', b], { lines: stdin(['four']) });
    expect(pj.out.map((l) => JSON.parse(l))).toEqual([{ partition: expect.any(Number), offset: expect.any(Number) }]);
    const c = await cli(['consume', 'demo', '--partition', '1', '--from-beginning', '--max-messages', '3', '--bootstrap', b]);
    expect(c).toMatchObject({ code: 0, out: ['one', 'two', 'three'], err: ['consumed 3 records'] });
    const cj = await cli(['consume', 'demo', '--offset', '1', '--partition', '1', '--timeout-ms', '300', '--json', '--bootstrap', b]);
    expect(cj.out.map((l) => JSON.parse(l))).toEqual([
      { topic: 'demo', partition: 1, offset: 1, key: null, value: 'two' },
      { topic: 'demo', partition: 1, offset: 2, key: null, value: 'three' },
    ]);
  });

  it('consume --group commits what it printed; groups list, describe, reset-offsets (refused while the group has members) and delete', async () => {
    cluster.createTopic('demo', 3);
    const values = Array.from({ length: 30 }, (_, i) => `v${i}`);
    for (const p of [0, 1, 2]) {
      const lines = stdin(values.filter((_, i) => i % 3 === p));
      expect(await cli(['produce', 'demo', '--partition', String(p), '--bootstrap', b], { lines })).toMatchObject({ code: 0 });
    }
    const c = await cli(['consume', 'demo', '--group', 'g', '--client-id', 'me', '--from-beginning', '--max-messages', '10', '--bootstrap', b]);
    expect(c).toMatchObject({ code: 0, err: ['consumed 10 records'] });
    expect(c.out).toHaveLength(10);

    const list = await cli(['groups', 'list', '--bootstrap', b]);
    expect(list.out).toEqual(['GROUP  STATE  PROTOCOL-TYPE  COORDINATOR', 'g      Empty  consumer       0']);
    expect(JSON.parse((await cli(['groups', 'list', '--json', '--bootstrap', b])).out[0]!)).toEqual({
      groups: [{ groupId: 'g', state: 'Empty', protocolType: 'consumer', coordinator: 0 }],
      errors: [],
    });
    expect((await cli(['groups', 'list', '--state', 'Stable', '--bootstrap', b])).out).toEqual(['no groups']);

    // Exactly the 10 records printed were committed (the rest of the last batch was not).
    const d = JSON.parse((await cli(['groups', 'describe', 'g', '--json', '--bootstrap', b])).out[0]!);
    expect(d).toMatchObject({ groupId: 'g', state: 'Empty', members: [] });
    expect(d.offsets.reduce((n: number, o: { committedOffset: number }) => n + o.committedOffset, 0)).toBe(10);
    for (const o of d.offsets) {
      expect(Object.keys(o)).toEqual(['topic', 'partition', 'committedOffset', 'logEndOffset', 'lag', 'memberId']);
      expect(o.lag).toBe(o.logEndOffset - o.committedOffset);
    }
    const again = await cli(['consume', 'demo', '--group', 'g', '--timeout-ms', '500', '--bootstrap', b]);
    expect([...c.out, ...again.out].sort()).toEqual([...values].sort());

    // A member: describe shows it with its partitions; reset-offsets and delete are refused.
    const member = new Consumer({ bootstrap: [b], groupId: 'g', clientId: 'live', sessionTimeoutMs: 10_000 });
    member.subscribe('demo');
    await eventually(async () => {
      await member.poll();
      expect(member.assignment()).toHaveLength(3);
    });
    const text = (await cli(['groups', 'describe', 'g', '--bootstrap', b])).out;
    expect(text[0]).toBe('group g  state Stable  members 1  assignor cooperative-sticky  total-lag 0');
    expect(text[2]).toMatch(/^MEMBER-ID\s+CLIENT-ID\s+HOST\s+PARTITIONS$/);
    expect(text[3]).toMatch(/^live-\S+\s+live\s+\/127\.0\.0\.1\s+demo:0,1,2$/);
    expect(text[5]).toMatch(/^TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+MEMBER$/);
    const dj = JSON.parse((await cli(['groups', 'describe', 'g', '--json', '--bootstrap', b])).out[0]!);
    expect(dj.members).toEqual([
      {
        memberId: expect.stringMatching(/^live-/),
        clientId: 'live',
        clientHost: '/127.0.0.1',
        assignment: [0, 1, 2].map((partition) => ({ topic: 'demo', partition })),
      },
    ]);
    const refused = await cli(['groups', 'reset-offsets', 'g', '--topic', 'demo', '--to-earliest', '--bootstrap', b]);
    expect(refused).toMatchObject({ code: 1, err: [expect.stringMatching(/^error: NON_EMPTY_GROUP: group g is Stable with 1 members.*stop its consumers/)] });
    const notDeleted = await cli(['groups', 'delete', 'g', '--bootstrap', b]);
    expect(notDeleted).toMatchObject({ code: 1, err: [expect.stringMatching(/^error: NON_EMPTY_GROUP: .*stop its consumers first/)] });
    await member.close();

    const toEarliest = await cli(['groups', 'reset-offsets', 'g', '--topic', 'demo', '--to-earliest', '--bootstrap', b]);
    expect(toEarliest.code).toBe(0);
    expect(toEarliest.out[0]).toMatch(/^TOPIC\s+PARTITION\s+PREVIOUS-OFFSET\s+NEW-OFFSET$/);
    expect(toEarliest.out.slice(1)).toEqual([0, 1, 2].map((p) => expect.stringMatching(new RegExp(`^demo\\s+${p}\\s+10\\s+0$`))));
    const dry = JSON.parse(
      (await cli(['groups', 'reset-offsets', 'g', '-t', 'demo', '--to-offset', '4', '-p', '1', '--dry-run', '--json', '--bootstrap', b])).out[0]!,
    );
    expect(dry).toEqual({ groupId: 'g', dryRun: true, offsets: [{ topic: 'demo', partition: 1, previousOffset: 0, committedOffset: 4 }] });
    expect((await cli(['groups', 'reset-offsets', 'g', '-t', 'demo', '--to-datetime', '2099-01-01T00:00:00Z', '--bootstrap', b])).code).toBe(0);
    const latest = JSON.parse((await cli(['groups', 'describe', 'g', '--json', '--bootstrap', b])).out[0]!);
    expect(latest.offsets.map((o: { lag: number }) => o.lag)).toEqual([0, 0, 0]);
    await cli(['groups', 'reset-offsets', 'g', '-t', 'demo', '--to-datetime', '2000-01-01', '--bootstrap', b]);
    const back = JSON.parse((await cli(['groups', 'describe', 'g', '--json', '--bootstrap', b])).out[0]!);
    expect(back.offsets.map((o: { committedOffset: number }) => o.committedOffset)).toEqual([0, 0, 0]);

    expect(await cli(['groups', 'delete', 'g', '--bootstrap', b])).toMatchObject({ code: 0, out: ['deleted group g'] });
    expect(await cli(['groups', 'describe', 'g', '--bootstrap', b])).toMatchObject({
      code: 1,
      err: [expect.stringMatching(/^error: GROUP_ID_NOT_FOUND: group g does not exist/)],
    });
  });

  it('produce and consume refuse a missing topic or partition at once', async () => {
    cluster.createTopic('demo', 2);
    const noTopic = await cli(['produce', 'nope', '--bootstrap', b], { lines: stdin(['x']) });
    expect(noTopic).toMatchObject({ code: 1, err: [expect.stringMatching(/^error: UNKNOWN_TOPIC_OR_PARTITION: topic 'nope' does not exist/)] });
    const noPartition = await cli(['produce', 'demo', '--partition', '5', '--bootstrap', b], { lines: stdin(['x']) });
    expect(noPartition).toMatchObject({ code: 2, err: [expect.stringContaining("topic 'demo' has no partition 5 (it has 2)")] });
    const consumeMissing = await cli(['consume', 'nope', '--max-messages', '1', '--bootstrap', b]);
    expect(consumeMissing.code).toBe(1);
  });

  it('consume stops on abort (Ctrl-C) and reports the count', async () => {
    cluster.createTopic('demo', 2);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const r = await cli(['consume', 'demo', '--bootstrap', b], { signal: controller.signal });
    expect(r).toEqual({ code: 0, out: [], err: ['consumed 0 records'] });
  });

  it('produce reports a failed record as one error line with its code', async () => {
    cluster.createTopic('demo', 1);
    cluster.onProduce = () => ({ code: 'MESSAGE_TOO_LARGE', message: 'batch of 9 bytes exceeds max.message.bytes 1' });
    const r = await cli(['produce', 'demo', '--bootstrap', b], { lines: stdin(['x']) });
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      'acknowledged 0 records, 1 failed (topic demo, acks=all)',
      expect.stringMatching(/^error: MESSAGE_TOO_LARGE: failed to produce 1 record\(s\) to demo-0/),
    ]);
  });

  it('watch: in place on a terminal, frame after frame when piped, JSON lines with --json', async () => {
    cluster.createTopic('demo', 3);
    cluster.moveLeader('demo', 1, 2);
    const tty = await cli(['watch', 'demo', '--iterations', '1', '--bootstrap', b], { isTTY: true });
    expect(tty.code).toBe(0);
    expect(tty.out[0]).toBe('\x1b[?25l\x1b[2J');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's cursor codes start with ESC
    expect(tty.out[1]).toMatch(/^\x1b\[Htributary watch demo {2}127\.0\.0\.1:\d+ {2}\d\d:\d\d:\d\d\.\d{3} {2}brokers 3\/3 alive\x1b\[K\n/);
    expect(tty.out[1]).toContain('  rack-1/B2  leads P1 P2  follows -\x1b[K');
    expect(tty.out[1]!.endsWith('\x1b[J')).toBe(true);
    expect(tty.out.at(-1)).toBe('\x1b[?25h');

    const piped = await cli(['watch', 'demo', '--iterations', '2', '--interval-ms', '50', '--bootstrap', b]);
    expect(piped.code).toBe(0);
    expect(piped.out.filter((l) => l === '---')).toHaveLength(1);
    expect(piped.out.filter((l) => l.startsWith('tributary watch demo'))).toHaveLength(2);
    expect(piped.out).toContain('partitions needing attention: none');
    expect(piped.out.some((l) => l.includes('\x1b'))).toBe(false);

    expect(piped.out).toContain('consumer groups: none');

    const member = new Consumer({ bootstrap: [b], groupId: 'watched', clientId: 'w', sessionTimeoutMs: 10_000 });
    member.subscribe('demo');
    await eventually(async () => {
      await member.poll();
      expect(member.assignment()).toHaveLength(3);
    });
    const withGroup = await cli(['watch', 'demo', '--iterations', '1', '--bootstrap', b]);
    expect(withGroup.out).toContain('  watched  Stable  1 member  lag 0');
    expect(withGroup.out).toContainEqual(expect.stringMatching(/^ {4}w {2}\/127\.0\.0\.1 {2}demo-0 demo-1 demo-2 {2}lag 0$/));
    const json = await cli(['watch', 'demo', '--iterations', '1', '--json', '--bootstrap', b]);
    expect(JSON.parse(json.out[0]!)).toMatchObject({
      problems: [],
      events: [],
      groups: [{ groupId: 'watched', state: 'Stable', members: [{ clientId: 'w' }] }],
    });
    await member.close();
    expect((await cli(['watch', '--iterations', '0', '--bootstrap', b])).code).toBe(2);
  });

  it('cluster, brokers set-config and topics elect-leaders', async () => {
    const c = await cli(['cluster', '--bootstrap', b]);
    expect(c.out).toEqual([
      'cluster fake  controller 127.0.0.1:1  brokers 3/3 alive',
      'RACK    BROKER  ADDRESS          STATE',
      ...cluster.brokers
        .filter((x) => x.rack === 'rack-1')
        .concat(cluster.brokers.filter((x) => x.rack === 'rack-2'))
        .map((x) => `${x.rack}  B${x.id}      127.0.0.1:${x.port}  alive`),
      'placement order (rack-alternated): B0 B1 B2',
    ]);
    const s = await cli(['brokers', 'set-config', '2', 'follower.replication.throttled.rate=1024', '--bootstrap', b]);
    expect(s.out).toEqual(['broker 2: set follower.replication.throttled.rate=1024']);
    await cli(['brokers', 'set-config', '2', '--delete', 'follower.replication.throttled.rate', '--bootstrap', b]);
    expect(cluster.brokerConfigCalls).toEqual([
      { brokerId: 2, configs: { 'follower.replication.throttled.rate': 1024 } },
      { brokerId: 2, configs: { 'follower.replication.throttled.rate': -1 } },
    ]);
    cluster.createTopic('demo', 2);
    cluster.moveLeader('demo', 1, 2);
    expect((await cli(['topics', 'elect-leaders', 'demo', '--bootstrap', b])).out).toEqual(['P1 -> leader B1']);
    expect((await cli(['topics', 'delete', 'demo', '--bootstrap', b])).out).toEqual(["deleted topic 'demo'"]);
  });
});
