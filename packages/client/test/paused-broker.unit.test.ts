// A paused broker (SIGSTOP, a long GC pause, a hung host) accepts connections and never answers.
// Reads must go around it at once, the verbose view must show what it cannot learn as unknown
// without waiting out the request timeout, and writes must still go to one broker at a time.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Admin, DESCRIBE_REPLICAS_TIMEOUT_MS } from '../src/index.ts';
import { READ_HEDGE_MS } from '../src/internal/cluster-client.ts';
import { FakeCluster } from './fake-cluster.ts';

/** The client's metadata deadline: what a read would wait on a paused broker without hedging. */
const METADATA_TIMEOUT_MS = 3000;

let cluster: FakeCluster;
const admins: Admin[] = [];

function admin(bootstrap: string[], options: { requestTimeoutMs?: number } = {}): Admin {
  const a = new Admin({ bootstrap, ...options });
  admins.push(a);
  return a;
}

function address(id: number): string {
  return `127.0.0.1:${cluster.brokers[id]!.port}`;
}

beforeEach(async () => {
  cluster = await FakeCluster.start(3);
  cluster.createTopic('t', 3);
});
afterEach(async () => {
  await Promise.all(admins.splice(0).map((a) => a.close()));
  await cluster.close();
});

describe('a paused broker', () => {
  it('does not hold up a metadata read: the next broker is asked after READ_HEDGE_MS and answers', async () => {
    cluster.pause(0);
    const a = admin([address(0), address(1)]);
    const started = performance.now();
    const topic = await a.describeTopic('t');
    const elapsedMs = performance.now() - started;
    expect(topic.partitions).toHaveLength(3);
    // Asked broker 0 first and waited for it a while, then asked broker 1 without waiting out
    // broker 0's deadline.
    expect(elapsedMs).toBeGreaterThanOrEqual(READ_HEDGE_MS - 5);
    expect(elapsedMs).toBeLessThan(METADATA_TIMEOUT_MS);
    // The call still waiting on broker 0 was abandoned: closing does not wait for it.
    const closing = performance.now();
    await a.close();
    expect(performance.now() - closing).toBeLessThan(METADATA_TIMEOUT_MS);
  });

  it('is shown as unknown by the verbose view after DESCRIBE_REPLICAS_TIMEOUT_MS, the other leaders as they answer', async () => {
    cluster.pause(1);
    const a = admin([address(0)]);
    const started = performance.now();
    const verbose = await a.describeTopicVerbose('t');
    const elapsedMs = performance.now() - started;
    expect(elapsedMs).toBeLessThan(DESCRIBE_REPLICAS_TIMEOUT_MS + METADATA_TIMEOUT_MS);
    const [p0, p1, p2] = verbose.partitions;
    expect(p0).toMatchObject({ leader: 0, highWatermark: 0, logEndOffset: 0 });
    expect(p2).toMatchObject({ leader: 2, highWatermark: 0, logEndOffset: 0 });
    expect(p1).toMatchObject({ leader: 1, error: `leader 1 did not answer within ${DESCRIBE_REPLICAS_TIMEOUT_MS} ms` });
    expect(p1!.highWatermark).toBeUndefined();
  });

  it('takes a shorter leader deadline when asked', async () => {
    cluster.pause(2);
    const verbose = await admin([address(0)]).describeTopicVerbose('t', { leaderTimeoutMs: 200 });
    expect(verbose.partitions[2]).toMatchObject({ error: 'leader 2 did not answer within 200 ms' });
    expect(verbose.partitions[0]!.highWatermark).toBe(0);
  });

  it('gets a write only once: a write it does not answer times out rather than going to the next broker too', async () => {
    cluster.pause(0);
    const a = admin([address(0), address(1)], { requestTimeoutMs: 800 });
    await expect(a.deleteTopic('t')).rejects.toMatchObject({ code: 'REQUEST_TIMED_OUT' });
    expect(cluster.topics.has('t')).toBe(true);
  });
});

describe('bootstrap servers', () => {
  it('are all tried; when none answers, the error names every one', async () => {
    const down = await FakeCluster.start(2);
    const addresses = down.brokers.map((b) => `127.0.0.1:${b.port}`);
    await down.close();
    const a = admin([...addresses, address(2)]);
    expect((await a.describeTopic('t')).partitions).toHaveLength(3);
    const none = admin(addresses);
    await expect(none.describeTopic('t')).rejects.toMatchObject({
      code: 'BROKER_NOT_AVAILABLE',
      message: expect.stringContaining(`cannot reach any broker at ${addresses.join(', ')}`),
    });
  });
});
