// The nemesis schedule: which fault, when, for how long, decided by a seeded random source
// before the run starts (same seed, same schedule). Who exactly is hit — "the leader of
// partition 4" — is resolved against the cluster's metadata when the fault fires, because
// leadership moves during a run; the resolution is recorded in the history.
//
// Faults are sequential: one fault, its heal, a quiet gap, the next. So at most one broker of any
// replica set is down at a time, except in `majority` mode, whose faults take two brokers of one
// partition's replica set (its leader and a follower) at once, and in the two sequences that are
// about exactly that (`compound`, and diskloss followed by the death of the other replicas). A
// controller fault may follow a broker fault as any other; the controller is in no replica set.
// Only one broker's disk is ever lost: acknowledged writes live on at least min.insync.replicas
// disks, so two lost disks could lose them in a correct cluster too.

export const FAULT_KINDS = ['kill', 'pause', 'controller', 'partition', 'congest', 'majority', 'garbage', 'diskloss', 'compound'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults that need the docker target (the network is the container's, not the process's). */
export const DOCKER_ONLY_FAULTS: readonly FaultKind[] = ['partition', 'congest'];

/** How a broker target is chosen at run time. */
export type TargetRole = 'leader' | 'follower';

export type ScheduledFault =
  | { id: number; atMs: number; durationMs: number; action: 'kill'; role: TargetRole; partition: number }
  | { id: number; atMs: number; durationMs: number; action: 'pause'; role: TargetRole; partition: number; long: boolean }
  | { id: number; atMs: number; durationMs: number; action: 'controller' }
  | { id: number; atMs: number; durationMs: number; action: 'partition'; role: TargetRole; partition: number; wholeRack: boolean }
  | { id: number; atMs: number; durationMs: number; action: 'congest'; role: TargetRole; partition: number }
  /** Two brokers of one replica set: its leader and one follower, killed or paused together. */
  | { id: number; atMs: number; durationMs: number; action: 'majority'; how: 'kill' | 'pause'; partition: number }
  /** Abusive requests (abuse.ts) to random routes of random processes for the whole window. */
  | { id: number; atMs: number; durationMs: number; action: 'garbage' }
  | DisklossFault
  | CompoundFault;

/**
 * kill -9 a broker, delete its data dir (or empty its volume), keep it down for downMs, start it
 * with an empty disk. With `thenKillOthers` (KIP-903) the broker is a follower of `partition`, and
 * the partition's other replicas are killed together for othersDownMs: just before it starts
 * (`before-start`: it comes back with no one to copy from) or killOthersAfterMs after it is back
 * and healthy (`after-start`: it may have copied some). A broker that lost its disk must not be
 * elected with it.
 */
export interface DisklossFault {
  id: number;
  atMs: number;
  /** The whole fault, for spacing the schedule (start-up time included as an allowance). */
  durationMs: number;
  action: 'diskloss';
  role: TargetRole;
  partition: number;
  downMs: number;
  thenKillOthers?: { when: 'before-start' | 'after-start'; killOthersAfterMs: number; othersDownMs: number };
}

/**
 * SIGSTOP the leader of `partition` for firstPauseMs, kill -9 it, wait for the next leader and
 * SIGSTOP that one for secondPauseMs; then resume it and restart the first. Two leader changes
 * in a few seconds, the second while the first leader is dead.
 */
export interface CompoundFault {
  id: number;
  atMs: number;
  /** The whole fault, for spacing the schedule (an election's time included as an allowance). */
  durationMs: number;
  action: 'compound';
  partition: number;
  firstPauseMs: number;
  secondPauseMs: number;
}

/** Time allowed in a sequence's planned duration for a broker to start or a leader to be elected. */
export const STEP_ALLOWANCE_MS = 4000;

/**
 * How long a fault made of steps holds its last state once its steps have run (the nemesis
 * returns only then); undefined for a one-step fault, which holds until atMs + durationMs.
 */
export function holdAfterInjectMs(f: ScheduledFault): number | undefined {
  if (f.action === 'diskloss') return f.thenKillOthers?.othersDownMs;
  if (f.action === 'compound') return f.secondPauseMs;
  return undefined;
}

export interface ScheduleOptions {
  seed: number;
  durationMs: number;
  faults: readonly FaultKind[];
  partitions: number;
  /** Quiet time before the first fault. Default 5000. */
  warmupMs?: number;
  /** Quiet time between a heal and the next fault: [min, max). Default [4000, 12000). */
  gapMs?: readonly [number, number];
}

/** The seed's broker-lag rule, so pauses straddle it (DESIGN.md: replica.lag.time.max.ms). */
export const LAG_TIME_MAX_MS = 10_000;

/** mulberry32 (as testkit's SeededRandom; chaos does not depend on test-only packages). */
export class ScheduleRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(minInclusive: number, maxExclusive: number): number {
    return minInclusive + Math.floor(this.next() * (maxExclusive - minInclusive));
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length)]!;
  }
}

export function parseFaults(text: string): FaultKind[] {
  const out: FaultKind[] = [];
  for (const word of text
    .split(',')
    .map((w) => w.trim())
    .filter(Boolean)) {
    if (!(FAULT_KINDS as readonly string[]).includes(word)) throw new Error(`unknown fault '${word}' (known: ${FAULT_KINDS.join(', ')})`);
    if (!out.includes(word as FaultKind)) out.push(word as FaultKind);
  }
  if (out.length === 0) throw new Error('--faults names no fault');
  return out;
}

/**
 * Builds the schedule. Leaders are hit twice as often as followers (their loss forces an
 * election; a follower's only an ISR change). Pauses alternate between shorter and longer than
 * the 10 s lag rule, so both the "slow but in sync" and the "drops out of the ISR" paths run.
 */
export function buildSchedule(options: ScheduleOptions): ScheduledFault[] {
  const random = new ScheduleRandom(options.seed);
  const warmupMs = options.warmupMs ?? 5000;
  const [gapMin, gapMax] = options.gapMs ?? [4000, 12_000];
  const kinds = options.faults.filter((k) => k !== 'majority');
  const majority = options.faults.includes('majority');
  const actions: ScheduledFault['action'][] = [...kinds];
  if (majority) actions.push('majority');
  if (actions.length === 0) return [];
  const role = (): TargetRole => (random.next() < 2 / 3 ? 'leader' : 'follower');
  const out: ScheduledFault[] = [];
  let at = warmupMs;
  let pauses = 0;
  // Leave room at the end for the last heal to be observed by the workload.
  const lastStartMs = options.durationMs - 5000;
  for (let id = 0; at < lastStartMs; id++) {
    const action = random.pick(actions);
    const partition = random.int(0, options.partitions);
    let fault: ScheduledFault;
    switch (action) {
      case 'kill':
        fault = { id, atMs: at, durationMs: random.int(2000, 12_000), action, role: role(), partition };
        break;
      case 'pause': {
        const long = pauses++ % 2 === 1 ? true : random.next() < 0.5;
        const durationMs = long ? random.int(LAG_TIME_MAX_MS + 2000, LAG_TIME_MAX_MS + 10_000) : random.int(1000, LAG_TIME_MAX_MS - 2000);
        fault = { id, atMs: at, durationMs, action, role: role(), partition, long };
        break;
      }
      case 'controller':
        fault = { id, atMs: at, durationMs: random.int(2000, 10_000), action };
        break;
      case 'partition': {
        // A whole rack holds two replicas of some partitions (RF 3 over two racks): harsh mode only.
        const rack = random.next() < 0.25;
        fault = { id, atMs: at, durationMs: random.int(3000, 15_000), action, role: role(), partition, wholeRack: majority && rack };
        break;
      }
      case 'congest':
        fault = { id, atMs: at, durationMs: random.int(5000, 20_000), action, role: 'follower', partition };
        break;
      case 'majority':
        fault = { id, atMs: at, durationMs: random.int(2000, 10_000), action, how: random.next() < 0.5 ? 'kill' : 'pause', partition };
        break;
      case 'garbage':
        fault = { id, atMs: at, durationMs: random.int(5000, 15_000), action };
        break;
      case 'diskloss': {
        // Down for less than the 3 s session timeout now and then (the broker comes back before
        // it is fenced), and always for less than the 10 s lag rule, so that it returns while
        // still in the ISRs it followed: the case KIP-903 is about.
        if (random.next() < 0.5) {
          const downMs = random.int(1000, 4000);
          const when = random.next() < 0.5 ? ('before-start' as const) : ('after-start' as const);
          const then = { when, killOthersAfterMs: when === 'after-start' ? random.int(0, 1500) : 0, othersDownMs: random.int(5000, 10_000) };
          fault = {
            id,
            atMs: at,
            durationMs: downMs + STEP_ALLOWANCE_MS + then.killOthersAfterMs + then.othersDownMs,
            action,
            role: 'follower',
            partition,
            downMs,
            thenKillOthers: then,
          };
        } else {
          const downMs = random.int(1000, 8000);
          fault = { id, atMs: at, durationMs: downMs, action, role: role(), partition, downMs };
        }
        break;
      }
      case 'compound': {
        const firstPauseMs = random.int(1000, 6000);
        // The second pause straddles the lag rule as plain pauses do.
        const secondPauseMs = random.next() < 0.5 ? random.int(1000, LAG_TIME_MAX_MS - 2000) : random.int(LAG_TIME_MAX_MS + 2000, LAG_TIME_MAX_MS + 6000);
        fault = { id, atMs: at, durationMs: firstPauseMs + STEP_ALLOWANCE_MS + secondPauseMs, action, partition, firstPauseMs, secondPauseMs };
        break;
      }
    }
    // A fault never outlasts the run: it is healed before the workload stops. One that does not
    // fit is not cut short (a "longer than 10 s" pause must be one), the schedule ends instead,
    // unless it is the only fault of a short run.
    const endMs = options.durationMs - 2000;
    if (at + fault.durationMs > endMs) {
      if (out.length > 0) break;
      fault.durationMs = Math.max(500, endMs - at);
    }
    out.push(fault);
    at += fault.durationMs + random.int(gapMin, gapMax);
  }
  return out;
}

/** One line per fault, for the printed plan. */
export function describeFault(f: ScheduledFault): string {
  const when = `t+${(f.atMs / 1000).toFixed(1)}s for ${(f.durationMs / 1000).toFixed(1)}s`;
  switch (f.action) {
    case 'kill':
      return `${when}: kill -9 the ${f.role} of partition ${f.partition}, then restart it`;
    case 'pause':
      return `${when}: SIGSTOP the ${f.role} of partition ${f.partition} (${f.long ? 'longer' : 'shorter'} than the 10 s lag rule), then SIGCONT`;
    case 'controller':
      return `${when}: kill -9 the controller, then restart it`;
    case 'partition':
      return `${when}: cut ${f.wholeRack ? 'the rack of ' : ''}the ${f.role} of partition ${f.partition} off the network, then heal`;
    case 'congest':
      return `${when}: congest the network of a follower of partition ${f.partition}`;
    case 'majority':
      return `${when}: ${f.how === 'kill' ? 'kill -9' : 'SIGSTOP'} the leader and a follower of partition ${f.partition} together, then heal`;
    case 'garbage':
      return `${when}: send abusive requests (oversized, nested, truncated, trickled, …) to random routes of random processes`;
    case 'diskloss':
      return f.thenKillOthers
        ? f.thenKillOthers.when === 'before-start'
          ? `${when}: kill -9 a follower of partition ${f.partition}, delete its data; after ${secs(f.downMs)} kill -9 the partition's other replicas and start it, empty, with no one to copy from; heal after ${secs(f.thenKillOthers.othersDownMs)}`
          : `${when}: kill -9 a follower of partition ${f.partition}, delete its data, start it after ${secs(f.downMs)}; ${secs(f.thenKillOthers.killOthersAfterMs)} after it is back, kill -9 the partition's other replicas for ${secs(f.thenKillOthers.othersDownMs)}`
        : `${when}: kill -9 the ${f.role} of partition ${f.partition}, delete its data, start it after ${secs(f.downMs)}`;
    case 'compound':
      return `${when}: SIGSTOP the leader of partition ${f.partition} for ${secs(f.firstPauseMs)}, kill -9 it, SIGSTOP the next leader for ${secs(f.secondPauseMs)}, then heal`;
  }
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
