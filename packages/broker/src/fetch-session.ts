// Incremental fetch sessions (KIP-227) for replica fetches, sans-I/O. Without them every fetch a
// follower sends names every partition it copies from that leader, and every answer carries them
// all: with thousands of mostly idle partitions, encoding, decoding and walking those lists is
// most of the work. With a session the leader remembers each partition's fetch state, a request
// names only what changed, and an answer carries only what the follower needs to hear about.
//
// Leader side: FetchSessionCache holds the sessions (one per follower broker, LRU beyond
// `maxSessions`, as Kafka's max.incremental.fetch.session.cache.slots). Follower side:
// FetchSessionBuilder turns "these partitions, at these offsets" into a full or incremental
// request and keeps the session id and epoch. Any failed or lost exchange makes the follower open
// a new session with a full fetch: the two sides never need to agree on what a lost answer said.
//
// The leader reads only what can have something to say: a session keeps an *active* set — the
// partitions named in a request, those whose leader state changed since (an append, a HW or log
// start move, an ISR or leadership change: `markChanged`), and those not yet quiet. A partition
// is quiet once its follower is in the ISR, caught up to the log end, and has been told the HW
// and log start; then it leaves the set, and until it changes again reading it would change
// nothing but its follower's caught-up time. That time comes from the session's QuietClock: the
// leader links a quiet partition's follower to it (partition-state.ts), and every answered fetch
// moves it on. So a fetch costs what changed, not the thousands of idle partitions a follower
// copies (at 10,000 partitions the scan had been most of every broker's CPU).

import {
  assert,
  FETCH_SESSION_FINAL_EPOCH,
  FETCH_SESSION_INITIAL_EPOCH,
  TributaryError,
  type BrokerId,
  type ReplicaFetchPartition,
  type ReplicaFetchPartitionResponse,
  type ReplicaFetchRequest,
} from '@tributary/protocol';

/** One partition's fetch state, as a follower asks for it. */
export type PartitionFetch = ReplicaFetchPartition;

const key = (topic: string, partition: number): string => `${topic}-${partition}`;

/** The largest session epoch; the one after it is 1 again (Kafka's nextEpoch). */
const EPOCH_MAX = 0x7fffffff;
const nextEpoch = (epoch: number): number => (epoch >= EPOCH_MAX ? 1 : epoch + 1);

// ------------------------------------------------------------------------------------ leader

/** A partition as one fetch reads it: its fetch state and its `topic-partition` key. */
export interface PlannedFetch extends PartitionFetch {
  key: string;
}

interface CachedPartition extends PlannedFetch {
  /** The HW and log start last sent to this session (-2: never sent, so the next answer has it). */
  sentHighWatermark: number;
  sentLogStartOffset: number;
}

/**
 * When a session's follower last fetched with every partition outside the active set quiet: a
 * quiet partition's follower counts as caught up at that time (partition-state.ts). A session
 * that is gone stops moving it, so a follower that stopped fetching falls behind as it should.
 */
export interface QuietClock {
  lastFetchMs: number;
}

/**
 * Whether a partition just read for a follower is quiet (see above): the follower is in the ISR
 * and at the log end, and the read sent nothing, no error and no divergence. (That the HW and
 * log start reached it is the answer's part: `answer` sends them before the partition leaves
 * the active set.) A partition the leader's quota held back is not quiet: its follower is
 * behind, whatever it asked for.
 */
export function isQuiet(read: {
  result: Pick<ReplicaFetchPartitionResponse, 'records' | 'error' | 'divergingEpoch'>;
  fetchOffset: number;
  logEndOffset: number;
  followerInIsr: boolean;
  heldBack: boolean;
}): boolean {
  const r = read.result;
  return (
    !read.heldBack &&
    read.followerInIsr &&
    read.fetchOffset >= read.logEndOffset &&
    r.records.length === 0 &&
    r.error === undefined &&
    r.divergingEpoch === undefined
  );
}

/** One partition read for a fetch: what it said, and whether it is quiet now (see above). */
export interface FetchRead {
  entry: PlannedFetch;
  result: ReplicaFetchPartitionResponse;
  quiet: boolean;
}

export class FetchSession {
  readonly id: number;
  readonly brokerId: BrokerId;
  /** The epoch the next incremental request must carry. */
  expectedEpoch = 1;
  lastUsedMs: number;
  /** In the order the follower named them, so the fetch budget is shared as it asked. */
  readonly partitions = new Map<string, CachedPartition>();
  /** What the next read covers: named, changed since, or not yet quiet (insertion order). */
  readonly active = new Set<string>();
  readonly clock: QuietClock = { lastFetchMs: 0 };
  /** Wakes the fetch of this session that is waiting for data, if any. */
  waiter: (() => void) | undefined;
  /**
   * Replaced, evicted or ended: a fetch of it still in progress on the leader (its follower
   * gave up on it) must not answer for its partitions — its fetch offsets are stale, and
   * linking followers to this session's stopped clock would push them out of ISRs.
   */
  closed = false;

  constructor(id: number, brokerId: BrokerId, nowMs: number) {
    this.id = id;
    this.brokerId = brokerId;
    this.lastUsedMs = nowMs;
  }
}

/** What the leader does with one replica fetch: which partitions to read, and which to answer. */
export interface SessionFetchPlan {
  /** The session this fetch belongs to, or undefined for a sessionless full fetch. */
  session: FetchSession | undefined;
  /** A full fetch's partitions (every one read and answered); see `toRead` for what to read. */
  partitions: PlannedFetch[];
  /** Whether every partition read is answered (full fetch). */
  full: boolean;
  /** Partitions named in this request: always answered. */
  named: Set<string>;
  /** Partitions the request forgot: their followers' quiet links end (partition-state.ts). */
  forgotten: string[];
}

export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>();
  private readonly byBroker = new Map<BrokerId, FetchSession>();
  /** The sessions holding each partition, for markChanged. */
  private readonly byKey = new Map<string, Set<FetchSession>>();
  private readonly maxSessions: number;
  private readonly newId: () => number;

  constructor(options: { maxSessions?: number; newId?: () => number } = {}) {
    this.maxSessions = options.maxSessions ?? 1000;
    this.newId = options.newId ?? (() => 1 + Math.floor(Math.random() * (EPOCH_MAX - 1)));
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * Resolves a request against the cache: a sessionless full fetch, a full fetch opening a new
   * session (replacing this follower's previous one, evicting the least recently used session
   * when the cache is full), or an incremental fetch merged into its session. Throws
   * FETCH_SESSION_ID_NOT_FOUND / INVALID_FETCH_SESSION_EPOCH when the follower must start over.
   */
  plan(request: Pick<ReplicaFetchRequest, 'brokerId' | 'sessionId' | 'sessionEpoch' | 'forgotten' | 'partitions'>, nowMs: number): SessionFetchPlan {
    const sessionId = request.sessionId ?? 0;
    const epoch = request.sessionEpoch ?? FETCH_SESSION_FINAL_EPOCH;
    const named = new Set<string>();
    const planned: PlannedFetch[] = new Array(request.partitions.length);
    for (let i = 0; i < request.partitions.length; i++) {
      const p = request.partitions[i]!;
      const k = key(p.topic, p.partition);
      named.add(k);
      planned[i] = { ...p, key: k };
    }
    if (epoch === FETCH_SESSION_FINAL_EPOCH || epoch === FETCH_SESSION_INITIAL_EPOCH) {
      if (sessionId !== 0) this.remove(sessionId);
      // A cache of no slots opens no session: the follower goes on with full fetches.
      if (epoch === FETCH_SESSION_FINAL_EPOCH || this.maxSessions === 0) return { session: undefined, partitions: planned, full: true, named, forgotten: [] };
      const session = this.open(request.brokerId, nowMs);
      const partitions: PlannedFetch[] = [];
      for (const p of planned) {
        const cached: CachedPartition = { ...p, sentHighWatermark: -2, sentLogStartOffset: -2 };
        session.partitions.set(p.key, cached);
        partitions.push(cached);
        session.active.add(p.key);
        this.index(p.key, session);
      }
      return { session, partitions, full: true, named, forgotten: [] };
    }
    const session = this.sessions.get(sessionId);
    if (session === undefined || session.brokerId !== request.brokerId) {
      throw new TributaryError('FETCH_SESSION_ID_NOT_FOUND', `fetch session ${sessionId} of broker ${request.brokerId} is not in this leader's cache`);
    }
    if (epoch !== session.expectedEpoch) {
      throw new TributaryError('INVALID_FETCH_SESSION_EPOCH', `fetch session ${sessionId} expected epoch ${session.expectedEpoch}, got ${epoch}`);
    }
    session.expectedEpoch = nextEpoch(epoch);
    session.lastUsedMs = nowMs;
    const forgotten: string[] = [];
    for (const f of request.forgotten ?? []) {
      const k = key(f.topic, f.partition);
      if (!session.partitions.delete(k)) continue;
      session.active.delete(k);
      this.unindex(k, session);
      forgotten.push(k);
    }
    for (const p of planned) {
      const cached = session.partitions.get(p.key);
      if (cached === undefined) this.index(p.key, session);
      // A partition named again is answered whatever changed, so its HW is sent anew too.
      session.partitions.set(p.key, { ...p, sentHighWatermark: -2, sentLogStartOffset: cached?.sentLogStartOffset ?? -2 });
      session.active.add(p.key);
    }
    return { session, partitions: [], full: false, named, forgotten };
  }

  /**
   * What to read now for this fetch: a full fetch's partitions, or an incremental one's active
   * set as it stands (a fetch that waited reads what changed meanwhile).
   */
  toRead(plan: SessionFetchPlan): PlannedFetch[] {
    const session = plan.session;
    if (plan.full || session === undefined) return plan.partitions;
    const out: PlannedFetch[] = [];
    for (const k of session.active) {
      const cached = session.partitions.get(k);
      if (cached !== undefined) out.push(cached);
    }
    return out;
  }

  /**
   * A partition's leader state changed (records, HW, log start, ISR, leadership): every session
   * holding it reads it at its next fetch; with `wake`, a fetch waiting for data looks again now.
   */
  markChanged(partitionKey: string, wake: boolean): void {
    const holders = this.byKey.get(partitionKey);
    if (holders === undefined) return;
    for (const s of holders) {
      s.active.add(partitionKey);
      if (wake) s.waiter?.();
    }
  }

  /**
   * Which reads go into the answer: all of a full fetch; of an incremental one, those with
   * records, an error, a divergence, a HW or log start not yet sent, or named in the request.
   * Remembers what was sent, lets the quiet partitions leave the active set, and moves the
   * session's quiet clock to `nowMs`.
   */
  answer(plan: SessionFetchPlan, reads: FetchRead[], nowMs: number): ReplicaFetchPartitionResponse[] {
    const session = plan.session;
    const out: ReplicaFetchPartitionResponse[] = [];
    for (const { entry, result: r, quiet } of reads) {
      const cached = session?.partitions.get(entry.key);
      const include =
        plan.full ||
        cached === undefined ||
        r.records.length > 0 ||
        r.error !== undefined ||
        r.divergingEpoch !== undefined ||
        plan.named.has(entry.key) ||
        r.highWatermark !== cached.sentHighWatermark ||
        r.logStartOffset !== cached.sentLogStartOffset;
      if (cached !== undefined && quiet) session!.active.delete(entry.key);
      if (!include) continue;
      out.push(r);
      if (cached !== undefined) {
        cached.sentHighWatermark = r.highWatermark;
        cached.sentLogStartOffset = r.logStartOffset;
      }
    }
    if (session !== undefined) session.clock.lastFetchMs = nowMs;
    return out;
  }

  private index(partitionKey: string, session: FetchSession): void {
    const holders = this.byKey.get(partitionKey);
    if (holders === undefined) this.byKey.set(partitionKey, new Set([session]));
    else holders.add(session);
  }

  private unindex(partitionKey: string, session: FetchSession): void {
    const holders = this.byKey.get(partitionKey);
    if (holders === undefined) return;
    holders.delete(session);
    if (holders.size === 0) this.byKey.delete(partitionKey);
  }

  private open(brokerId: BrokerId, nowMs: number): FetchSession {
    const previous = this.byBroker.get(brokerId);
    if (previous !== undefined) this.remove(previous.id);
    while (this.sessions.size >= this.maxSessions) {
      let oldest: FetchSession | undefined;
      for (const s of this.sessions.values()) if (oldest === undefined || s.lastUsedMs < oldest.lastUsedMs) oldest = s;
      this.remove(oldest!.id);
    }
    let id = this.newId();
    while (this.sessions.has(id) || id === 0) id = this.newId();
    const session = new FetchSession(id, brokerId, nowMs);
    this.sessions.set(id, session);
    this.byBroker.set(brokerId, session);
    return session;
  }

  private remove(id: number): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    this.sessions.delete(id);
    if (this.byBroker.get(session.brokerId) === session) this.byBroker.delete(session.brokerId);
    for (const k of session.partitions.keys()) this.unindex(k, session);
    session.closed = true;
    session.waiter?.();
  }
}

// ---------------------------------------------------------------------------------- follower

/** The session fields and partition list of the next replica fetch. */
export interface SessionRequest {
  sessionId: number;
  sessionEpoch: number;
  partitions: PartitionFetch[];
  forgotten: { topic: string; partition: number }[];
}

/** What the leader's session holds for a partition, as the follower last sent it. */
interface SentFetch<T> extends PartitionFetch {
  /** The request (`begin` count) that last named or kept it. */
  round: number;
  /** The caller's object for the partition (the fetcher's Partition), to apply the answer to. */
  owner: T | undefined;
  /** The caller's version of the partition's state when it was read (see `keepIfUnchanged`). */
  version: number | undefined;
}

/**
 * The follower's side of a session. A request is built partition by partition — `begin`, then
 * `keepIfUnchanged` or `want` for every partition to fetch now, then `finish` — so that at
 * thousands of partitions per leader a round allocates nothing for the unchanged ones, and
 * (with the caller's version of each partition, such as `Log.version`) does not even read them.
 */
export class FetchSessionBuilder<T = undefined> {
  private sessionId = 0;
  private epoch = FETCH_SESSION_INITIAL_EPOCH;
  /** What the leader's session holds for each partition, as of the last request built. */
  private readonly sent = new Map<string, SentFetch<T>>();
  private readonly enabled: boolean;
  private round = 0;
  /** The request being built: its named partitions, and whether it names every one (full). */
  private named: PartitionFetch[] = [];
  private full = true;
  /** The request being built covers only what `want`, `keepIfUnchanged` and `drop` were told. */
  private changesOnly = false;
  private dropped: { topic: string; partition: number }[] = [];

  constructor(options: { enabled?: boolean } = {}) {
    this.enabled = options.enabled ?? true;
  }

  /** The session in use (0: none yet, so the next fetch is full). */
  get id(): number {
    return this.sessionId;
  }

  /**
   * The next request for `wanted` (every partition to fetch now, in order): full when there is
   * no session, else only the partitions whose fetch state changed, and the ones dropped.
   */
  build(wanted: PartitionFetch[]): SessionRequest {
    this.begin();
    for (const p of wanted) this.want(key(p.topic, p.partition), p.topic, p.partition, p.fetchOffset, p.lastFetchedEpoch, p.currentLeaderEpoch, p.maxBytes);
    return this.finish();
  }

  /**
   * Starts the next request: `want` each partition to fetch now, in order, then `finish`. With
   * `changesOnly` (an established session only) the request covers just the partitions passed to
   * `want`, `keepIfUnchanged` or `drop`: every other one stays in the leader's session as last
   * sent, so a round costs what changed, not every partition followed.
   */
  begin(changesOnly = false): void {
    this.round++;
    this.full = !this.enabled || this.sessionId === 0;
    assert(!changesOnly || !this.full, 'a changes-only request needs an established fetch session');
    this.changesOnly = changesOnly;
    if (this.full) this.sent.clear();
    this.named = [];
    this.dropped = [];
  }

  /** In a changes-only request: the partition is no longer fetched, and the leader may forget it. */
  drop(partitionKey: string): void {
    const before = this.sent.get(partitionKey);
    if (before === undefined) return;
    this.sent.delete(partitionKey);
    this.dropped.push({ topic: before.topic, partition: before.partition });
  }

  /** How many partitions the leader's session holds, as of the request being built. */
  get heldCount(): number {
    return this.sent.size;
  }

  /** One partition to fetch in the request being built (`partitionKey` is `topic-partition`). */
  want(
    partitionKey: string,
    topic: string,
    partition: number,
    fetchOffset: number,
    lastFetchedEpoch: number,
    currentLeaderEpoch: number,
    maxBytes?: number,
    owner?: T,
    version?: number,
  ): void {
    const before = this.sent.get(partitionKey);
    if (before !== undefined) {
      if (before.round === this.round) return; // named twice: the first one counts
      before.round = this.round;
      before.owner = owner;
      before.version = version;
      if (
        before.fetchOffset === fetchOffset &&
        before.lastFetchedEpoch === lastFetchedEpoch &&
        before.currentLeaderEpoch === currentLeaderEpoch &&
        before.maxBytes === maxBytes
      ) {
        return;
      }
    }
    const fetch: PartitionFetch =
      maxBytes === undefined
        ? { topic, partition, fetchOffset, lastFetchedEpoch, currentLeaderEpoch }
        : { topic, partition, fetchOffset, lastFetchedEpoch, currentLeaderEpoch, maxBytes };
    this.sent.set(partitionKey, { ...fetch, round: this.round, owner, version });
    this.named.push(fetch);
  }

  /**
   * Keeps a partition in the request being built without reading it, when the caller can tell
   * it is as last sent: the same owner, leader epoch and limit, and the same `version` (the
   * caller's counter of changes to the state it would read, such as `Log.version`). Returns
   * false otherwise; the caller then reads the partition and calls `want`.
   */
  keepIfUnchanged(partitionKey: string, version: number, currentLeaderEpoch: number, maxBytes: number | undefined, owner: T): boolean {
    const before = this.sent.get(partitionKey);
    if (
      before === undefined ||
      before.round === this.round ||
      before.version !== version ||
      before.owner !== owner ||
      before.currentLeaderEpoch !== currentLeaderEpoch ||
      before.maxBytes !== maxBytes
    ) {
      return false;
    }
    before.round = this.round;
    return true;
  }

  /** The request built since `begin`: what changed, and what the leader's session can drop. */
  finish(): SessionRequest {
    const partitions = this.named;
    this.named = [];
    if (!this.enabled) return { sessionId: 0, sessionEpoch: FETCH_SESSION_FINAL_EPOCH, partitions, forgotten: [] };
    if (this.full) return { sessionId: 0, sessionEpoch: FETCH_SESSION_INITIAL_EPOCH, partitions, forgotten: [] };
    if (this.changesOnly) return { sessionId: this.sessionId, sessionEpoch: this.epoch, partitions, forgotten: this.dropped };
    const forgotten: { topic: string; partition: number }[] = [];
    for (const [k, p] of this.sent) {
      if (p.round === this.round) continue;
      forgotten.push({ topic: p.topic, partition: p.partition });
      this.sent.delete(k);
    }
    return { sessionId: this.sessionId, sessionEpoch: this.epoch, partitions, forgotten };
  }

  /** What the last request built said about a partition (undefined: it did not fetch it), and its owner. */
  sentFetch(partitionKey: string): (PartitionFetch & { owner: T | undefined }) | undefined {
    return this.sent.get(partitionKey);
  }

  /** The answer to the request last built arrived: keep the session the leader gave, if any. */
  onResponse(request: SessionRequest, responseSessionId: number | undefined): void {
    if (!this.enabled) return;
    if (request.sessionEpoch === FETCH_SESSION_INITIAL_EPOCH) {
      // A leader that opened no session (an older one, or its cache refused) gets full fetches.
      this.sessionId = responseSessionId ?? 0;
      this.epoch = this.sessionId === 0 ? FETCH_SESSION_INITIAL_EPOCH : 1;
    } else {
      this.epoch = nextEpoch(this.epoch);
    }
  }

  /**
   * The exchange failed, was aborted, or the leader refused the session: what the leader holds
   * is unknown, so the next fetch opens a new session with everything.
   */
  reset(): void {
    this.sessionId = 0;
    this.epoch = FETCH_SESSION_INITIAL_EPOCH;
    this.sent.clear();
  }
}
