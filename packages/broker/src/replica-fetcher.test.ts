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

/** Session ids 100, 101, ...: a new session never reuses an id. */
function ids(): () => number {
  let next = 100;
  return () => next++;
}

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
    applyFetchResponse: (): { bytes: number; stalled: boolean } => ({ bytes: 0, stalled: false }),
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
    // The leader sends partition 1 records once; applying them moves its log end to 25.
    let sendRecords = false;
    p1.applyFetchResponse = () => {
      p1.log.logEndOffset = 25;
      return { bytes: 5, stalled: false };
    };
    const requests = start({}, () => {
      const partitions = sendRecords ? [{ topic: 't', partition: 1, highWatermark: 20, logStartOffset: 0, records: Buffer.alloc(5) }] : [];
      sendRecords = false;
      return { sessionId: 55, partitions };
    }, [p0, p1]);
    await eventually(() => requests.length >= 3);
    expect(requests[0]).toMatchObject({ sessionId: 0, sessionEpoch: 0, brokerEpoch: 7 });
    expect(requests[0]!.partitions.map((p) => [p.partition, p.fetchOffset])).toEqual([
      [0, 10],
      [1, 20],
    ]);
    expect(requests[1]).toMatchObject({ sessionId: 55, sessionEpoch: 1, partitions: [] });
    sendRecords = true;
    const seen = requests.length;
    // Named in the request right after the answer, not a full round later.
    await eventually(() => requests.length > seen + 2, { timeoutMs: 500 });
    const named = requests.slice(seen).find((r) => r.partitions.length > 0)!;
    expect(named.partitions.map((p) => [p.partition, p.fetchOffset])).toEqual([[1, 25]]);
    expect(requests.indexOf(named)).toBeLessThanOrEqual(seen + 1);
  });

  it('a log that moved outside any answer is sent within a round that reads every log (once a second), whether its version moved or not', async () => {
    const p0 = follower(0, 10);
    const p1 = follower(1, 20);
    const requests = start({}, () => ({ sessionId: 55, partitions: [] }), [p0, p1]);
    await eventually(() => requests.length >= 2);
    p1.log.logEndOffset = 21;
    await eventually(() => requests.some((r) => r.partitions.some((p) => p.partition === 1 && p.fetchOffset === 21)), { timeoutMs: 3000 });
    // One the version does not show either (a mutation that forgot to move it).
    p0.log.moveQuietly(15);
    await eventually(() => requests.some((r) => r.partitions.some((p) => p.partition === 0 && p.fetchOffset === 15)), { timeoutMs: 3000 });
  });

  it('between full rounds a round looks only at the partitions the last answer touched', async () => {
    // 200 partitions; every read of a partition's role is counted.
    let roleReads = 0;
    const parts = Array.from({ length: 200 }, (_, i) => {
      const p = follower(i, 10) as ReturnType<typeof follower> & { role: string };
      let role = 'follower';
      Object.defineProperty(p, 'role', {
        get: () => {
          roleReads++;
          return role;
        },
        set: (r: string) => {
          role = r;
        },
      });
      return p;
    });
    // Every answer carries partition 7 (a HW that moved).
    let hw = 0;
    const requests = start(
      {},
      () => ({ sessionId: 55, partitions: [{ topic: 't', partition: 7, highWatermark: ++hw, logStartOffset: 0, records: Buffer.alloc(0) }] }),
      parts,
    );
    await eventually(() => requests.length >= 3);
    const before = roleReads;
    const seen = requests.length;
    await new Promise((r) => setTimeout(r, 400));
    const rounds = requests.length - seen;
    expect(rounds).toBeGreaterThan(10);
    // Full rounds would read all 200 roles each round; at most one full round falls in this window.
    expect(roleReads - before).toBeLessThan(200 * 2 + rounds * 2);
  });

  it('a partition the leader refused leaves the session while it waits, then is named again', async () => {
    let refuse = true;
    const requests = start({}, () => {
      if (!refuse) return { sessionId: 55, partitions: [] };
      refuse = false;
      return {
        sessionId: 55,
        partitions: [
          {
            topic: 't',
            partition: 1,
            highWatermark: -1,
            logStartOffset: -1,
            records: Buffer.alloc(0),
            error: { code: 'NOT_LEADER_OR_FOLLOWER' as const, message: 'not yet' },
          },
        ],
      };
    }, [follower(0, 10), follower(1, 10)]);
    await eventually(() => requests.some((r) => (r.forgotten ?? []).some((f) => f.partition === 1)), { timeoutMs: 500 });
    const forgotAt = requests.findIndex((r) => (r.forgotten ?? []).some((f) => f.partition === 1));
    expect(forgotAt).toBe(1);
    await eventually(() => requests.slice(forgotAt + 1).some((r) => r.partitions.some((p) => p.partition === 1)), { timeoutMs: 3000 });
    // Partition 0 stayed in the session all along.
    expect(requests.slice(1).some((r) => (r.forgotten ?? []).some((f) => f.partition === 0))).toBe(false);
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

  it('against a real leader session, with random appends, refusals, failed exchanges and metadata changes, every follower catches up (model check)', async () => {
    // A seeded generator: a failure names its seed.
    let seed = 0x2545f491;
    const random = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x1_0000_0000;
    };
    const cache = new FetchSessionCache({ newId: ids() });
    const count = 24;
    const leaderLeo = Array.from({ length: count }, () => 0);
    const parts = Array.from({ length: count }, (_, i) => follower(i, 0));
    for (const p of parts) {
      // As Partition.applyFetchResponse: an answer to a fetch sent at another log end is stale.
      p.applyFetchResponse = ((resp: { records: Buffer; error?: unknown }, fetchOffset: number) => {
        if (p.log.logEndOffset !== fetchOffset || resp.error !== undefined) return { bytes: 0, stalled: false };
        if (resp.records.length > 0) p.log.logEndOffset = fetchOffset + resp.records.length;
        return { bytes: resp.records.length, stalled: false };
      }) as never;
    }
    let chaos = true;
    const requests = start(
      {},
      (req) => {
        if (chaos && random() < 0.03) throw new Error('connection reset');
        const plan = cache.plan(req, Date.now());
        const reads = cache.toRead(plan).map((entry) => {
          const refused = chaos && random() < 0.02;
          const behind = Math.max(0, leaderLeo[entry.partition]! - entry.fetchOffset);
          const records = refused ? Buffer.alloc(0) : Buffer.alloc(Math.min(behind, 3));
          return {
            entry,
            result: {
              topic: entry.topic,
              partition: entry.partition,
              highWatermark: leaderLeo[entry.partition]!,
              logStartOffset: 0,
              records,
              ...(refused ? { error: { code: 'NOT_LEADER_OR_FOLLOWER' as const, message: 'not yet' } } : {}),
            },
            quiet: !refused && records.length === 0 && entry.fetchOffset >= leaderLeo[entry.partition]!,
          };
        });
        return { sessionId: plan.session?.id ?? 0, partitions: cache.answer(plan, reads, Date.now()) };
      },
      parts,
    );
    // The leader appends here and there (each append marks the partition changed, as Partition
    // does); now and then the metadata changes and the fetcher is told its partitions again.
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      const i = Math.floor(random() * count);
      leaderLeo[i]! += 1 + Math.floor(random() * 4);
      cache.markChanged(`t-${i}`, true);
      if (random() < 0.05) fetcher!.setPartitions((random() < 0.5 ? parts.filter((_, j) => j !== i) : parts) as unknown as Partition[]);
      await new Promise((r) => setTimeout(r, 2));
    }
    fetcher!.setPartitions(parts as unknown as Partition[]);
    chaos = false;
    await eventually(() => parts.every((p, i) => p.log.logEndOffset === leaderLeo[i]), { timeoutMs: 5000 });
    expect(requests.length).toBeGreaterThan(50);
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
