// The I/O around a consumer's MemberState: sends what it asks for through GroupClient, runs the
// heartbeat and the max.poll.interval.ms check (KIP-62) on timers, and performs the application
// steps — commit and revoke, take new partitions, the rebalance callbacks — when the Consumer
// calls `step()` from poll(), as Kafka's ConsumerCoordinator.poll runs inside KafkaConsumer.poll.
// Commits go out one at a time, in order, so a later commit can never be overtaken by an earlier
// one; offsets committed for the application's progress never go back.

import { TributaryError, formatTopicPartition, type OffsetCommitEntry, type TopicPartition } from '@tributary/protocol';
import type { GroupClient } from '../group-client.ts';
import { MemberState, groupErrorAction, type MemberAction, type MemberConfig } from '../member-state.ts';
import { retryBackoffMs } from '../retry.ts';
import type { Logger } from './logger.ts';

/** Kafka's ConsumerRebalanceListener. Each callback may be async; the rebalance waits for it. */
export interface RebalanceListener {
  /** New partitions, before their first records (KIP-429: only the added ones). */
  onPartitionsAssigned?(partitions: TopicPartition[]): void | Promise<void>;
  /** Partitions given up, after their offsets were committed (auto-commit), before another member takes them. */
  onPartitionsRevoked?(partitions: TopicPartition[]): void | Promise<void>;
  /** Partitions another member may own already (the group went on without this one): nothing was committed. Default: onPartitionsRevoked. */
  onPartitionsLost?(partitions: TopicPartition[]): void | Promise<void>;
}

export interface MembershipHost {
  /** The next offset the application has not been handed, of these partitions (those with one). */
  consumedOffsets(partitions: readonly TopicPartition[]): { topic: string; partition: number; offset: number }[];
  /** Starts fetching these, from the group's committed offsets. */
  addPartitions(partitions: readonly TopicPartition[]): void;
  /** Stops fetching these and drops their buffered records. */
  removePartitions(partitions: readonly TopicPartition[]): void;
  /** The partition counts of these topics, from fresh metadata (the leader's assignment). */
  partitionCounts(topics: readonly string[]): Promise<Map<string, number>>;
}

export interface MembershipOptions extends MemberConfig {
  autoCommit: boolean;
  autoCommitIntervalMs: number;
  heartbeatIntervalMs: number;
  requestTimeoutMs: number;
}

/** How long a commit made while revoking or closing retries REBALANCE_IN_PROGRESS (the group's sync completes in that time). */
const REVOKE_COMMIT_BUDGET_MS = 5000;

const tpKey = (tp: { topic: string; partition: number }) => `${tp.topic}\u0000${tp.partition}`;

export class GroupMembership {
  readonly state: MemberState;
  private readonly groups: GroupClient;
  private readonly host: MembershipHost;
  private readonly options: MembershipOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  listener: RebalanceListener = {};
  private readonly heartbeatTimer: NodeJS.Timeout;
  private heartbeatInFlight = false;
  private lastPollMs: number;
  private lastAutoCommitMs: number;
  private commitChain: Promise<unknown> = Promise.resolve();
  /** The last offset committed per partition by this member (the monotonic guard of automatic commits). */
  private readonly lastCommitted = new Map<string, number>();
  private lastHeartbeatMs = 0;
  private wakers: (() => void)[] = [];
  private wakeTimer: NodeJS.Timeout | undefined;
  private readonly background = new Set<Promise<void>>();
  private stepping: Promise<void> | undefined;
  private stopped = false;
  /** close() drives the steps from now on: a poll running beside it must not revoke the same partitions again. */
  private closing = false;

  constructor(groups: GroupClient, host: MembershipHost, options: MembershipOptions, log: Logger, now: () => number) {
    this.groups = groups;
    this.host = host;
    this.options = options;
    this.log = log;
    this.now = now;
    this.state = new MemberState(options);
    this.lastPollMs = now();
    this.lastAutoCommitMs = now();
    this.heartbeatTimer = setInterval(() => this.tick(), Math.max(10, Math.min(options.heartbeatIntervalMs, 1000)));
    this.heartbeatTimer.unref();
  }

  /** Resolves at the next change a poll should look at (a network step finished, a backoff ended). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.wakers.push(resolve));
  }

  private wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const w of wakers) w();
  }

  /**
   * Called by poll(): the application is between batches. Runs the application steps the member
   * asks for and starts its network steps; throws a fatal error. One step at a time.
   */
  step(): Promise<void> {
    if (this.closing) return Promise.resolve();
    const run = async (): Promise<void> => {
      if (this.stepping) await this.stepping.catch(() => undefined);
      this.lastPollMs = this.now();
      this.state.polled();
      this.maybeAutoCommit();
      await this.runSteps();
    };
    const p = run();
    this.stepping = p;
    return p.finally(() => {
      if (this.stepping === p) this.stepping = undefined;
    });
  }

  private async runSteps(): Promise<MemberAction['kind']> {
    for (;;) {
      const action = this.state.next(this.now());
      switch (action.kind) {
        case 'revoke':
          await this.revoke(action.partitions, action.lost, action.reason);
          continue;
        case 'assign':
          this.host.addPartitions(action.partitions);
          this.log.info(
            {
              groupId: this.options.groupId,
              memberId: this.state.memberId,
              generationId: this.state.generationId,
              added: action.partitions.map(formatTopicPartition),
              owned: this.state.owned.length,
            },
            'partitions assigned',
          );
          await this.listener.onPartitionsAssigned?.(action.partitions);
          continue;
        case 'join':
        case 'metadata':
        case 'sync':
        case 'leave':
          this.start(action);
          continue;
        case 'wait':
          if (action.untilMs !== undefined) this.wakeAt(action.untilMs);
          return 'wait';
        case 'done':
          return 'done';
        case 'failed':
          throw action.error;
      }
    }
  }

  private wakeAt(atMs: number): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = setTimeout(() => this.wake(), Math.max(0, atMs - this.now()));
    this.wakeTimer.unref();
  }

  private start(action: Extract<MemberAction, { kind: 'join' | 'metadata' | 'sync' | 'leave' }>): void {
    const asError = (err: unknown) =>
      err instanceof TributaryError ? err : new TributaryError('UNKNOWN_SERVER_ERROR', (err as Error)?.message ?? String(err));
    let p: Promise<void>;
    switch (action.kind) {
      case 'join':
        this.log.debug({ groupId: action.request.groupId, memberId: action.request.memberId }, 'joining the group');
        p = this.groups.joinGroup(action.request).then(
          (answer) => {
            this.state.joinSucceeded(action.seq, answer);
            this.log.info(
              {
                groupId: action.request.groupId,
                memberId: answer.memberId,
                generationId: answer.generationId,
                leader: answer.leader === answer.memberId,
                protocol: answer.protocolName,
              },
              'joined the group',
            );
          },
          (err: unknown) => {
            const e = asError(err);
            if (e.code !== 'MEMBER_ID_REQUIRED') this.log.info({ groupId: action.request.groupId, code: e.code, err: e.message }, 'join failed');
            this.state.joinFailed(action.seq, e, this.now());
          },
        );
        break;
      case 'metadata':
        p = this.host.partitionCounts(action.topics).then(
          (counts) => this.state.metadataReady(action.seq, counts),
          (err: unknown) => this.state.metadataFailed(action.seq, asError(err), this.now()),
        );
        break;
      case 'sync':
        p = this.groups.syncGroup(action.request).then(
          (answer) => this.state.syncSucceeded(action.seq, answer.assignment),
          (err: unknown) => {
            const e = asError(err);
            this.log.info({ groupId: action.request.groupId, code: e.code, err: e.message }, 'sync failed');
            this.state.syncFailed(action.seq, e, this.now());
          },
        );
        break;
      case 'leave':
        p = this.groups
          .leaveGroup(action.request, { timeoutMs: this.options.requestTimeoutMs })
          .then(
            () => this.log.info({ groupId: action.request.groupId, memberId: action.request.members[0]?.memberId }, 'left the group'),
            (err: unknown) => this.log.warn({ groupId: action.request.groupId, err }, 'leave failed; the member expires with its session'),
          )
          .then(() => this.state.left(action.seq));
        break;
    }
    const tracked = p.finally(() => {
      this.background.delete(tracked);
      this.wake();
    });
    this.background.add(tracked);
  }

  /** Commits (unless lost), calls the callback, stops fetching; the member no longer owns them. */
  private async revoke(partitions: TopicPartition[], lost: boolean, reason: string): Promise<void> {
    this.log.info(
      { groupId: this.options.groupId, memberId: this.state.memberId, partitions: partitions.map(formatTopicPartition), lost, reason },
      lost ? 'partitions lost' : 'revoking partitions',
    );
    try {
      if (!lost && this.options.autoCommit) {
        await this.commitConsumed(partitions, { budgetMs: REVOKE_COMMIT_BUDGET_MS, retryRebalance: true }).catch((err: unknown) =>
          this.log.warn({ groupId: this.options.groupId, err }, 'commit before revoking failed; the next owner starts from the last committed offset'),
        );
      }
      if (lost) await (this.listener.onPartitionsLost ?? this.listener.onPartitionsRevoked)?.call(this.listener, partitions);
      else await this.listener.onPartitionsRevoked?.(partitions);
    } finally {
      this.host.removePartitions(partitions);
      for (const tp of partitions) this.lastCommitted.delete(tpKey(tp));
      this.state.revoked(partitions, lost);
    }
  }

  private maybeAutoCommit(): void {
    if (!this.options.autoCommit || this.state.phase !== 'stable' || this.state.generationId < 0) return;
    if (this.now() - this.lastAutoCommitMs < this.options.autoCommitIntervalMs) return;
    this.lastAutoCommitMs = this.now();
    this.commitConsumed(this.state.owned).catch((err: unknown) =>
      this.log.warn({ groupId: this.options.groupId, err }, 'auto-commit failed; retried at the next interval'),
    );
  }

  /**
   * Commits what the application has been handed of these partitions, skipping any not past what
   * this member committed last. The offsets are read now; the commit waits its turn.
   */
  commitConsumed(partitions: readonly TopicPartition[], options: { budgetMs?: number; retryRebalance?: boolean } = {}): Promise<OffsetCommitEntry[]> {
    const offsets = this.host.consumedOffsets(partitions);
    return this.enqueue(offsets, {
      monotonic: true,
      budgetMs: options.budgetMs ?? this.options.requestTimeoutMs,
      retryRebalance: options.retryRebalance === true,
    });
  }

  /** Commits exactly these offsets (`commit(offsets)`), in their turn. */
  commitOffsets(
    offsets: readonly { topic: string; partition: number; offset: number; metadata?: string; leaderEpoch?: number }[],
  ): Promise<OffsetCommitEntry[]> {
    return this.enqueue(offsets, { monotonic: false, budgetMs: this.options.requestTimeoutMs, retryRebalance: false });
  }

  private enqueue(
    offsets: readonly { topic: string; partition: number; offset: number; metadata?: string; leaderEpoch?: number }[],
    options: { monotonic: boolean; budgetMs: number; retryRebalance: boolean },
  ): Promise<OffsetCommitEntry[]> {
    const run = async (): Promise<OffsetCommitEntry[]> => {
      const entries: OffsetCommitEntry[] = offsets
        .filter((o) => !options.monotonic || o.offset > (this.lastCommitted.get(tpKey(o)) ?? -1))
        .map((o) => ({
          topic: o.topic,
          partition: o.partition,
          offset: o.offset,
          metadata: o.metadata ?? '',
          ...(o.leaderEpoch !== undefined ? { leaderEpoch: o.leaderEpoch } : {}),
        }));
      if (entries.length === 0) return [];
      const deadline = this.now() + options.budgetMs;
      for (let attempt = 1; ; attempt++) {
        const sent = { generationId: this.state.generationId, memberId: this.state.memberId };
        try {
          const answer = await this.groups.commitOffsets(
            {
              groupId: this.options.groupId,
              ...sent,
              ...(this.options.groupInstanceId !== undefined ? { groupInstanceId: this.options.groupInstanceId } : {}),
              offsets: entries,
            },
            { timeoutMs: Math.max(1, deadline - this.now()) },
          );
          const failed = answer.partitions.find((p) => p.error !== undefined);
          entries.forEach((e, i) => {
            if (answer.partitions[i]?.error === undefined) this.lastCommitted.set(tpKey(e), e.offset);
          });
          if (failed?.error !== undefined) {
            throw new TributaryError(TributaryError.fromWire(failed.error).code, `committing ${failed.topic}-${failed.partition}: ${failed.error.message}`);
          }
          return entries;
        } catch (err) {
          if (!(err instanceof TributaryError)) throw err;
          // REBALANCE_IN_PROGRESS while the group completes a rebalance (CompletingRebalance):
          // a commit that must land before partitions are given up waits for the sync.
          if (options.retryRebalance && err.code === 'REBALANCE_IN_PROGRESS' && this.now() + retryBackoffMs(attempt) < deadline) {
            await new Promise((r) => setTimeout(r, retryBackoffMs(attempt)));
            continue;
          }
          this.state.groupCallFailed(sent, err, this.now());
          this.wake();
          throw err;
        }
      }
    };
    const p = this.commitChain.then(run, run);
    this.commitChain = p.catch(() => undefined);
    return p;
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.now();
    // KIP-62: a member whose application stopped polling leaves, so the group is not held up.
    if (now - this.lastPollMs > this.options.rebalanceTimeoutMs) {
      const leave = this.state.pollTimeoutExpired();
      if (leave !== undefined) {
        this.log.warn(
          { groupId: this.options.groupId, maxPollIntervalMs: this.options.rebalanceTimeoutMs },
          'not polled within max.poll.interval.ms: leaving the group',
        );
        this.groups.leaveGroup(leave, { timeoutMs: this.options.requestTimeoutMs }).catch(() => undefined);
        this.wake();
      }
    }
    if (this.heartbeatInFlight || now - this.lastHeartbeatMs < this.options.heartbeatIntervalMs) return;
    const request = this.state.heartbeatRequest();
    if (request === undefined) return;
    this.heartbeatInFlight = true;
    this.lastHeartbeatMs = now;
    this.groups
      .heartbeat(request, { timeoutMs: Math.min(this.options.requestTimeoutMs, this.options.sessionTimeoutMs) })
      .catch((err: unknown) => {
        if (!(err instanceof TributaryError)) return;
        const action = groupErrorAction(err.code);
        if (action !== 'retry') this.log.info({ groupId: request.groupId, memberId: request.memberId, code: err.code }, 'heartbeat: rejoining');
        this.state.groupCallFailed(request, err, this.now());
        this.wake();
      })
      .finally(() => {
        this.heartbeatInFlight = false;
      });
  }

  /**
   * Leaves the group: commits (auto-commit) and revokes what it owns, then LeaveGroup, within
   * `timeoutMs`; the member's session ends at once, so the group rebalances now.
   */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    this.state.close();
    this.wake();
    const deadline = this.now() + timeoutMs;
    try {
      while (this.now() < deadline) {
        if (this.stepping) await this.stepping.catch(() => undefined);
        const outcome = await this.runSteps().catch((err: unknown) => {
          this.log.warn({ groupId: this.options.groupId, err }, 'closing the group membership failed');
          return 'done' as const;
        });
        if (outcome === 'done') break;
        const left = Math.max(1, deadline - this.now());
        await Promise.race([this.changed(), new Promise((r) => setTimeout(r, Math.min(left, 1000)).unref())]);
      }
    } finally {
      this.stopped = true;
      clearInterval(this.heartbeatTimer);
      if (this.wakeTimer) clearTimeout(this.wakeTimer);
      this.wake();
    }
  }
}
