// Faults made of steps, against a recording BrokerControl and scripted metadata: the order of the
// steps, who they hit (resolved between steps), what the heal undoes, and the undo of a sequence
// that fails half-way.
import { describe, expect, it } from 'vitest';
import type { TopicDescription } from '@tributary/client';
import { injectSequence, type BrokerControl, type SequenceContext } from './sequences.ts';
import type { CompoundFault, DisklossFault } from './schedule.ts';

function topic(leaderOf0: number, replicas = [0, 3, 1]): TopicDescription {
  return {
    name: 't',
    configs: {} as never,
    partitions: [
      { partition: 0, leader: leaderOf0, leaderEpoch: 1, replicas, isr: replicas },
      { partition: 1, leader: 4, leaderEpoch: 1, replicas: [4, 2, 5], isr: [4, 2, 5] },
    ],
  };
}

/** A control that records every call, a clock that sleeps advance, and metadata answered in turn. */
function harness(metadata: TopicDescription[], failOn?: string) {
  const calls: string[] = [];
  let clock = 1000;
  const act = (what: string) => {
    calls.push(what);
    if (what === failOn) throw new Error(`${what} failed`);
  };
  const control: BrokerControl = {
    name: (b) => `broker-${b}`,
    kill: async (b) => act(`kill ${b}`),
    start: async (b) => act(`start ${b}`),
    pause: async (b) => {
      act(`pause ${b}`);
      return async () => act(`resume ${b}`);
    },
    wipe: async (b) => {
      act(`wipe ${b}`);
      return `/data/broker-${b}`;
    },
  };
  let asked = 0;
  const ctx: SequenceContext = {
    control,
    describe: async () => metadata[Math.min(asked++, metadata.length - 1)]!,
    sleep: async (ms) => {
      calls.push(`sleep ${ms}`);
      clock += ms;
    },
    now: () => clock,
  };
  return { calls, ctx };
}

const diskloss = (overrides: Partial<DisklossFault> = {}): DisklossFault => ({
  id: 4,
  atMs: 0,
  durationMs: 3000,
  action: 'diskloss',
  role: 'leader',
  partition: 0,
  downMs: 3000,
  ...overrides,
});
const compound: CompoundFault = { id: 2, atMs: 0, durationMs: 15_000, action: 'compound', partition: 0, firstPauseMs: 4000, secondPauseMs: 12_000 };

describe('diskloss', () => {
  it('kills the broker and deletes its data; the heal starts it', async () => {
    const { calls, ctx } = harness([]);
    const { op, heal } = await injectSequence(diskloss(), topic(3), ctx);
    expect(calls).toEqual(['kill 3', 'wipe 3']);
    expect(op).toMatchObject({ kind: 'fault', id: 4, fault: 'diskloss', targets: ['broker-3'], partitions: [0], note: 'leader of partition 0' });
    expect(op.steps!.map((s) => s.what)).toEqual(['kill -9 broker-3', 'deleted /data/broker-3']);
    await heal();
    expect(calls).toEqual(['kill 3', 'wipe 3', 'start 3']);
    // Healed once: a second heal has nothing left to do.
    await heal();
    expect(calls.at(-1)).toBe('start 3');
  });

  it("then kills the partition's other replicas once the wiped follower is back (KIP-903), as the metadata names them then", async () => {
    // At fire time P0 = [0,3,1] led by 0; when the others are killed the metadata says [0,3,1] still.
    const { calls, ctx } = harness([topic(0)]);
    const fault = diskloss({ role: 'follower', downMs: 2500, thenKillOthers: { when: 'after-start', killOthersAfterMs: 700, othersDownMs: 8000 } });
    const { op, heal } = await injectSequence(fault, topic(0), ctx);
    const follower = op.targets[0];
    expect(['broker-3', 'broker-1']).toContain(follower);
    const f = Number(follower!.slice('broker-'.length));
    const others = [0, 3, 1].filter((b) => b !== f);
    expect(calls).toEqual([`kill ${f}`, `wipe ${f}`, 'sleep 2500', `start ${f}`, 'sleep 700', ...others.map((o) => `kill ${o}`)]);
    expect(op.fault).toBe('diskloss-then-kill');
    expect(op.targets).toEqual([`broker-${f}`, ...others.map((o) => `broker-${o}`)]);
    expect(op.steps!.map((s) => s.what)).toContain(`started broker-${f} with an empty disk`);
    calls.length = 0;
    await heal();
    expect(calls).toEqual([...others].reverse().map((o) => `start ${o}`));
  });

  it('or kills the other replicas just before it starts, so it comes back with no one to copy from', async () => {
    // By then the metadata says 3 leads P0 (0 was moved away meanwhile): the others are 3 and whichever is not the follower.
    const { calls, ctx } = harness([topic(3)]);
    const fault = diskloss({ role: 'follower', downMs: 1200, thenKillOthers: { when: 'before-start', killOthersAfterMs: 0, othersDownMs: 6000 } });
    const { op, heal } = await injectSequence(fault, topic(0), ctx);
    const f = Number(op.targets[0]!.slice('broker-'.length));
    const others = [0, 3, 1].filter((b) => b !== f);
    expect(calls).toEqual([`kill ${f}`, `wipe ${f}`, 'sleep 1200', ...others.map((o) => `kill ${o}`), `start ${f}`]);
    expect(op.note).toMatch(/killed before it started$/);
    calls.length = 0;
    await heal();
    expect(calls).toEqual([...others].reverse().map((o) => `start ${o}`));
  });

  it('undoes every kill when the wiped broker cannot start', async () => {
    const { calls, ctx } = harness([topic(0)], 'start 3');
    const fault = diskloss({ role: 'follower', downMs: 1000, thenKillOthers: { when: 'before-start', killOthersAfterMs: 0, othersDownMs: 6000 } });
    // Fault id 0 picks the first follower of P0 = [0,3,1] led by 0: broker 3.
    const result = injectSequence({ ...fault, id: 0 }, topic(0), ctx);
    await expect(result).rejects.toThrow(/start 3 failed/);
    expect(calls.slice(0, 6)).toEqual(['kill 3', 'wipe 3', 'sleep 1000', 'kill 0', 'kill 1', 'start 3']);
    // Undone last first: the two others, then the wiped broker (whose start fails again).
    expect(calls.slice(6)).toEqual(['start 1', 'start 0', 'start 3']);
  });

  it('starts the broker again when deleting its data fails', async () => {
    const { calls, ctx } = harness([], 'wipe 3');
    await expect(injectSequence(diskloss(), topic(3), ctx)).rejects.toThrow(/wipe 3 failed/);
    expect(calls).toEqual(['kill 3', 'wipe 3', 'start 3']);
  });
});

describe('compound', () => {
  it('pauses the leader, kills it, waits for the next leader and pauses it; the heal resumes that one and starts the first', async () => {
    // The metadata still names 0 twice, then 3 (elected once 0 was fenced).
    const { calls, ctx } = harness([topic(0), topic(0), topic(3)]);
    const { op, heal } = await injectSequence(compound, topic(0), ctx);
    expect(calls).toEqual(['pause 0', 'sleep 4000', 'kill 0', 'sleep 250', 'sleep 250', 'pause 3']);
    expect(op).toMatchObject({ fault: 'compound', targets: ['broker-0', 'broker-3'], partitions: [0] });
    expect(op.steps!.map((s) => s.what)).toEqual([
      'SIGSTOP broker-0 (leader of partition 0)',
      'kill -9 broker-0',
      'SIGSTOP broker-3 (the next leader of partition 0)',
    ]);
    expect(op.steps!.map((s) => s.atMs)).toEqual([1000, 5000, 5500]);
    calls.length = 0;
    await heal();
    expect(calls).toEqual(['resume 3', 'start 0']);
  });

  it('gives up on a next leader that never comes, leaving the first dead until the heal', async () => {
    const { calls, ctx } = harness([{ ...topic(-1) }]);
    ctx.nextLeaderWaitMs = 1000;
    const { op, heal } = await injectSequence(compound, topic(0), ctx);
    expect(calls.filter((c) => !c.startsWith('sleep'))).toEqual(['pause 0', 'kill 0']);
    expect(op.steps!.at(-1)!.what).toBe('no next leader of partition 0 within 1 s');
    calls.length = 0;
    await heal();
    expect(calls).toEqual(['start 0']);
  });

  it('resumes the paused leader when killing it fails', async () => {
    const { calls, ctx } = harness([topic(0)], 'kill 0');
    await expect(injectSequence(compound, topic(0), ctx)).rejects.toThrow(/kill 0 failed/);
    expect(calls).toEqual(['pause 0', 'sleep 4000', 'kill 0', 'resume 0']);
  });
});
