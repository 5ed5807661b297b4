// The follower's fetch loop against a fake leader: what it sends (fetch sessions, KIP-227) and
// when it holds partitions back (replication quotas, KIP-73).
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '@tributary/testkit';
import { TributaryError, type ReplicaFetchRequest, type ReplicaFetchResponse } from '@tributary/protocol';
import type { RpcClientPool } from '@tributary/transport';
import type { Partition } from './partition.ts';
import { FetchSessionCache, type SessionFetchPlan } from './fetch-session.ts';
import { ReplicaFetcher, type ReplicaFetcherDeps } from './replica-fetcher.ts';
import { ReplicationQuota } from './throttle.ts';

const silent = { info() {}, warn() {}, debug() {} };

/** A log end that moves as told; its version moves with it, as storage's Log's does. */
function fakeLog(logEndOffset: number) {
  let leo = logEndOffset;
  let version = 0;
  return {
    get logEndOffset() {
      return leo;
    },
    set logEndOffset(offset: number) {
      leo = offset;
      version++;
    },
    get version() {
      return version;
    },
    /** Moves the log end without moving the version (a change the version missed). */
    moveQuietly(offset: number) {
      leo = offset;
    },
    lastEpoch: () => 3,
  };
}

/** The fields of a Partition the fetcher reads: a follower of broker 1 whose log end moves as told. */
function follower(partition: number, logEndOffset = 0) {
  return {
    topic: 't',
    partition,
    key: `t-${partition}`,
    removed: false,
    role: 'follower',
    leaderId: 1,
    leaderEpoch: 3,
    isr: [1, 0],
    addingReplicas: [] as number[],
    followerThrottled: false,
    log: fakeLog(logEndOffset),
    applyFetchResponse: () => ({ bytes: 0, stalled: false }),
  };
}

describe('ReplicaFetcher', () => {
  let fetcher: ReplicaFetcher | undefined;
  afterEach(async () => {
    await fetcher?.stop();
    fetcher = undefined;
  });

  function start(overrides: Partial<ReplicaFetcherDeps>, answer: (req: ReplicaFetchRequest) => ReplicaFetchResponse, partitions: object[]) {
    const requests: ReplicaFetchRequest[] = [];
    const clients = {
      get: () => ({
        call: async (_route: string, body: ReplicaFetchRequest) => {
          requests.push(structuredClone(body));
          await new Promise((r) => setTimeout(r, 5));
          return answer(body);
        },
      }),
    } as unknown as RpcClientPool;
    fetcher = new ReplicaFetcher(1, {
      brokerId: 0,
      brokerEpoch: () => 7,
      clients,
      endpointOf: () => ({ host: '127.0.0.1', port: 1 }),
      throttleRate: () => undefined,
      followerQuota: new ReplicationQuota(),
      throttleListsInUse: () => false,
      maxWaitMs: 0,
      maxBytes: 1 << 20,
      logger: silent,
      ...overrides,
    });
    fetcher.setPartitions(partitions as unknown as Partition[]);
    fetcher.start();
    return requests;
  }

  it('opens a fetch session with every partition, then names only the ones whose fetch state changed', async () => {
    const p0 = follower(0, 10);
    const p1 = follower(1, 20);
    const requests = start({}, () => ({ sessionId: 55, partitions: [] }), [p0, p1]);
    await eventually(() => requests.length >= 3);
    expect(requests[0]).toMatchObject({ sessionId: 0, sessionEpoch: 0, brokerEpoch: 7 });
    expect(requests[0]!.partitions.map((p) => [p.partition, p.fetchOffset])).toEqual([
      [0, 10],
      [1, 20],
    ]);
    expect(requests[1]).toMatchObject({ sessionId: 55, sessionEpoch: 1, partitions: [] });
    p1.log.logEndOffset = 25;
    const seen = requests.length;
    await eventually(() => requests.length > seen + 1);
    const named = requests.slice(seen).find((r) => r.partitions.length > 0)!;
    expect(named.partitions.map((p) => [p.partition, p.fetchOffset])).toEqual([[1, 25]]);
  });

  it('a log end that moved while its log version did not is still sent within a round that reads every log (once a second)', async () => {
    const p0 = follower(0, 10);
    const p1 = follower(1, 20);
    const requests = start({}, () => ({ sessionId: 55, partitions: [] }), [p0, p1]);
    await eventually(() => requests.length >= 2);
    // A change the version shows is sent at once.
    p1.log.logEndOffset = 21;
    await eventually(() => requests.some((r) => r.partitions.some((p) => p.partition === 1 && p.fetchOffset === 21)), { timeoutMs: 500 });
    // One it does not show (a mutation that forgot to move it) waits for the exact round, no longer.
    p0.log.moveQuietly(15);
    await eventually(() => requests.some((r) => r.partitions.some((p) => p.partition === 0 && p.fetchOffset === 15)), { timeoutMs: 3000 });
  });

  it('after the leader refused every partition (not yet leader), its session holds them all again and fetches go on', async () => {
    const cache = new FetchSessionCache({ newId: () => 77 });
    let refuseAll = true;
    let lastPlan: SessionFetchPlan | undefined;
    const requests = start(
      {},
      (req) => {
        const plan = cache.plan(req, Date.now());
        lastPlan = plan;
        const reads = cache.toRead(plan).map((entry) => ({
          entry,
          result: {
            topic: entry.topic,
            partition: entry.partition,
            highWatermark: refuseAll ? -1 : 10,
            logStartOffset: refuseAll ? -1 : 0,
            records: Buffer.alloc(0),
            ...(refuseAll ? { error: { code: 'NOT_LEADER_OR_FOLLOWER' as const, message: 'not the leader yet' } } : {}),
          },
          quiet: !refuseAll,
        }));
        refuseAll = false;
        return { sessionId: plan.session?.id ?? 0, partitions: cache.answer(plan, reads, Date.now()) };
      },
      [follower(0, 10), follower(1, 10), follower(2, 10)],
    );
    await eventually(() => !refuseAll && requests.length >= 4, { timeoutMs: 5000 });
    // Every partition is in the leader's session again, and the follower keeps fetching in it.
    await eventually(() => lastPlan?.session !== undefined && lastPlan.session.partitions.size === 3, { timeoutMs: 5000 });
    const seen = requests.length;
    await eventually(() => requests.length >= seen + 3);
    expect(lastPlan!.session!.partitions.size).toBe(3);
  });

  it('opens a new session after the leader refuses one', async () => {
    let refuse = false;
    let refused = -1;
    const requests = start(
      {},
      (req) => {
        if (refuse && req.sessionEpoch! > 0) {
          refuse = false;
          refused = requests.length - 1;
          throw new TributaryError('FETCH_SESSION_ID_NOT_FOUND', 'fetch session 9 is not in the cache');
        }
        return { sessionId: 9, partitions: [] };
      },
      [follower(0)],
    );
    await eventually(() => requests.length >= 2);
    refuse = true;
    await eventually(() => refused >= 0 && requests.length > refused + 1);
    expect(requests[refused]).toMatchObject({ sessionId: 9 });
    expect(requests[refused + 1]).toMatchObject({ sessionId: 0, sessionEpoch: 0 });
    expect(requests[refused + 1]!.partitions).toHaveLength(1);
  });

  it('a partition held back by a deep quota debt is fetched soon after the throttle is removed', async () => {
    // The rate covers every partition (no throttled lists), and one huge batch put the bucket far
    // into debt: the fetcher holds everything back.
    let rate: number | undefined = 1024;
    const quota = new ReplicationQuota();
    quota.update(rate, Date.now());
    quota.record(400_000, Date.now());
    const requests = start({ throttleRate: () => rate, followerQuota: quota }, () => ({ sessionId: 0, partitions: [] }), [follower(0)]);
    await new Promise((r) => setTimeout(r, 300));
    expect(requests).toHaveLength(0);
    // The operator removes the throttle: fetching resumes within moments, not after the debt.
    rate = undefined;
    await eventually(() => requests.length > 0, { timeoutMs: 3000 });
  });
});
