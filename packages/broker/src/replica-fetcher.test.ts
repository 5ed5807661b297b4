// The follower's fetch loop against a fake leader: what it sends (fetch sessions, KIP-227) and
// when it holds partitions back (replication quotas, KIP-73).
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '@tributary/testkit';
import { TributaryError, type ReplicaFetchRequest, type ReplicaFetchResponse } from '@tributary/protocol';
import type { RpcClientPool } from '@tributary/transport';
import type { Partition } from './partition.ts';
import { ReplicaFetcher, type ReplicaFetcherDeps } from './replica-fetcher.ts';
import { ReplicationQuota } from './throttle.ts';

const silent = { info() {}, warn() {}, debug() {} };

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
    log: { logEndOffset, lastEpoch: () => 3 },
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
    // Moved behind the fetcher's back: the next full round (within a second) finds it.
    p1.log.logEndOffset = 25;
    const seen = requests.length;
    await eventually(() => requests.slice(seen).some((r) => r.partitions.length > 0), { timeoutMs: 3000 });
    const named = requests.slice(seen).find((r) => r.partitions.length > 0)!;
    expect(named.partitions.map((p) => [p.partition, p.fetchOffset])).toEqual([[1, 25]]);
  });

  it('in an open session looks only at the partitions an answer touched, and at every one again within a second', async () => {
    const p0 = follower(0, 10);
    const p1 = follower(1, 20);
    let give: number | undefined;
    // The leader sends records of partition 1 once; applying them moves its log end.
    const withRecords = {
      ...p1,
      applyFetchResponse: () => {
        withRecords.log.logEndOffset = 25;
        return { bytes: 5, stalled: false };
      },
    };
    const requests = start({}, () => {
      const partitions = give === undefined ? [] : [{ topic: 't', partition: give, highWatermark: 25, logStartOffset: 0, records: Buffer.alloc(5) }];
      give = undefined;
      return { sessionId: 55, partitions };
    }, [p0, withRecords]);
    await eventually(() => requests.length >= 2);
    give = 1;
    const named = await eventually(() => requests.slice(1).find((r) => r.partitions.length > 0) ?? false);
    expect(named.partitions.map((p) => [p.partition, p.fetchOffset])).toEqual([[1, 25]]);
    // A change no answer brought (none does in a broker: only answers move a follower's log) is
    // found by the periodic full round.
    const seen = requests.length;
    p0.log.logEndOffset = 11;
    await eventually(() => requests.slice(seen).some((r) => r.partitions.some((p) => p.partition === 0 && p.fetchOffset === 11)), { timeoutMs: 3000 });
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
