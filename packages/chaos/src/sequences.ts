// Faults made of steps — diskloss (and diskloss followed by the death of a partition's other
// replicas), and the compound pause / kill / pause of two leaders in turn — written once over
// what a target can do to a broker (BrokerControl), so the local and the docker targets run the
// same sequence. Who is hit next is resolved from fresh metadata between steps, as leadership
// moves. If a step fails, what the earlier steps did is undone before the error is passed on.

import type { TopicDescription } from '@tributary/client';
import type { FaultOp } from './history.ts';
import { partitionsOf, resolveRole } from './targets.ts';
import type { CompoundFault, DisklossFault } from './schedule.ts';

/** What a target does to one broker. */
export interface BrokerControl {
  /** The process's name in the history (`broker-3`, or the container's). */
  name(broker: number): string;
  /** kill -9; the broker stays down until start(). */
  kill(broker: number): Promise<void>;
  /** Starts a stopped broker with whatever data it has and waits until it is healthy. */
  start(broker: number): Promise<void>;
  /** Freezes a broker; returns what thaws it. */
  pause(broker: number): Promise<() => Promise<void>>;
  /** Deletes every file of a stopped broker's data (its disk is lost); says what was deleted. */
  wipe(broker: number): Promise<string>;
}

export interface SequenceContext {
  control: BrokerControl;
  /** Fresh metadata of the run's topic. */
  describe: () => Promise<TopicDescription>;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  /** How long to wait for a partition's next leader. Default 15000. */
  nextLeaderWaitMs?: number;
}

export interface InjectedSequence {
  op: FaultOp;
  /** Restores what the sequence left down or frozen. */
  heal: () => Promise<void>;
}

/** Runs a diskloss or compound fault's steps up to its last held state. */
export async function injectSequence(fault: DisklossFault | CompoundFault, topic: TopicDescription, ctx: SequenceContext): Promise<InjectedSequence> {
  const run = new StepRun(fault, ctx);
  try {
    if (fault.action === 'diskloss') await diskloss(fault, topic, run);
    else await compound(fault, topic, run);
  } catch (err) {
    await run.undo();
    throw err;
  }
  return { op: run.op(topic), heal: () => run.undo() };
}

async function diskloss(fault: DisklossFault, topic: TopicDescription, run: StepRun): Promise<void> {
  const { control } = run.ctx;
  const broker = resolveRole(topic, fault.partition, fault.role, fault.id);
  run.note = `${fault.role} of partition ${fault.partition}`;
  await control.kill(broker);
  run.record(`kill -9 ${control.name(broker)}`, [broker]);
  const startWiped = run.pushUndo(() => control.start(broker));
  run.record(`deleted ${await control.wipe(broker)}`);
  const then = fault.thenKillOthers;
  if (!then) return;
  await run.ctx.sleep(fault.downMs);
  const startIt = async () => {
    await control.start(broker);
    run.removeUndo(startWiped);
    run.record(`started ${control.name(broker)} with an empty disk`);
  };
  // The others die once it is healthy (it may have copied something by then), or just before
  // it starts, so that it comes back to a partition with no one to copy from.
  if (then.when === 'after-start') {
    await startIt();
    await run.ctx.sleep(then.killOthersAfterMs);
  }
  const p = (await run.ctx.describe()).partitions.find((x) => x.partition === fault.partition);
  const others = (p?.replicas ?? []).filter((r) => r !== broker);
  run.note = `follower of partition ${fault.partition}; its other replicas ${others.map((o) => control.name(o)).join(', ')} killed ${then.when === 'after-start' ? 'once it was back' : 'before it started'}`;
  for (const other of others) {
    await control.kill(other);
    run.record(`kill -9 ${control.name(other)}`, [other]);
    run.pushUndo(() => control.start(other));
  }
  if (then.when === 'before-start') await startIt();
}

async function compound(fault: CompoundFault, topic: TopicDescription, run: StepRun): Promise<void> {
  const { control, describe, sleep, now } = run.ctx;
  const first = resolveRole(topic, fault.partition, 'leader', 0);
  run.note = `leader of partition ${fault.partition}, then the next leader`;
  const thaw = run.pushUndo(await control.pause(first));
  run.record(`SIGSTOP ${control.name(first)} (leader of partition ${fault.partition})`, [first]);
  await sleep(fault.firstPauseMs);
  await control.kill(first);
  // Killed where it stood: what undoes it now is a start, not a thaw.
  run.removeUndo(thaw);
  run.record(`kill -9 ${control.name(first)}`, [first]);
  run.pushUndo(() => control.start(first));
  const waitMs = run.ctx.nextLeaderWaitMs ?? 15_000;
  const deadline = now() + waitMs;
  let next = -1;
  for (;;) {
    const p = (await describe().catch(() => undefined))?.partitions.find((x) => x.partition === fault.partition);
    if (p !== undefined && p.leader >= 0 && p.leader !== first) {
      next = p.leader;
      break;
    }
    if (now() >= deadline) break;
    await sleep(250);
  }
  if (next < 0) {
    run.record(`no next leader of partition ${fault.partition} within ${waitMs / 1000} s`);
    return;
  }
  run.pushUndo(await control.pause(next));
  run.record(`SIGSTOP ${control.name(next)} (the next leader of partition ${fault.partition})`, [next]);
}

/** The steps a sequence took (for the history) and how to undo them, last first. */
class StepRun {
  readonly ctx: SequenceContext;
  private readonly fault: DisklossFault | CompoundFault;
  private readonly startMs: number;
  private readonly brokers: number[] = [];
  private readonly steps: { atMs: number; what: string }[] = [];
  private readonly undos: (() => Promise<void>)[] = [];
  note = '';

  constructor(fault: DisklossFault | CompoundFault, ctx: SequenceContext) {
    this.fault = fault;
    this.ctx = ctx;
    this.startMs = ctx.now();
  }

  record(what: string, brokers: number[] = []): void {
    this.steps.push({ atMs: this.ctx.now(), what });
    for (const b of brokers) if (!this.brokers.includes(b)) this.brokers.push(b);
  }

  /** Remembers how to undo a step; returns it, to be removed once a later step supersedes it. */
  pushUndo(undo: () => Promise<void>): () => Promise<void> {
    this.undos.push(undo);
    return undo;
  }

  removeUndo(undo: () => Promise<void>): void {
    const at = this.undos.lastIndexOf(undo);
    if (at >= 0) this.undos.splice(at, 1);
  }

  /** Undoes every step still in force, last first; every undo is tried, the first failure thrown. */
  async undo(): Promise<void> {
    let first: unknown;
    for (const undo of this.undos.splice(0).reverse()) {
      try {
        await undo();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }

  op(topic: TopicDescription): FaultOp {
    const name = this.fault.action === 'diskloss' ? (this.fault.thenKillOthers ? 'diskloss-then-kill' : 'diskloss') : 'compound';
    return {
      kind: 'fault',
      id: this.fault.id,
      fault: name,
      targets: this.brokers.map((b) => this.ctx.control.name(b)),
      startMs: this.startMs,
      partitions: partitionsOf(topic, this.brokers),
      note: this.note,
      steps: this.steps,
    };
  }
}
