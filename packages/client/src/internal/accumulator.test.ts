import { describe, expect, it } from 'vitest';
import { decodeBatch } from '@tributary/protocol';
import { RecordAccumulator } from './accumulator.ts';

const value = Buffer.alloc(100, 1);
const leaders: Record<string, number> = { 't/0': 0, 't/1': 3, 't/2': 0, 'u/0': 3 };
const leaderOf = (t: string, p: number): number | undefined => leaders[`${t}/${p}`];
const always = (): boolean => true;

function acc(overrides: Partial<{ batchSize: number; batchSizeMax: number; lingerMs: number }> = {}): RecordAccumulator {
  return new RecordAccumulator({ batchSize: 1000, batchSizeMax: 4000, lingerMs: 5, ...overrides });
}

describe('RecordAccumulator', () => {
  it('appends records of a partition into one open batch until it would pass batchSizeMax', () => {
    const a = acc();
    const first = a.append('t', 0, { value }, 0);
    expect(first.opened).toBe(true);
    let opened = 0;
    for (let i = 0; i < 60; i++) if (a.append('t', 0, { value }, 0).opened) opened++;
    const batches = a.queue('t', 0).batches;
    expect(opened).toBe(batches.length - 1);
    for (const b of batches) expect(b.builder.sizeInBytes).toBeLessThanOrEqual(4000);
    expect(batches.reduce((n, b) => n + b.recordCount, 0)).toBe(61);
  });

  it('reports a batch full once, on the record that reached batchSize, not on every record after', () => {
    const a = acc({ batchSize: 1000, batchSizeMax: 4000 });
    const fullAt: number[] = [];
    for (let i = 0; i < 30; i++) {
      const r = a.append('t', 0, { value }, 0);
      if (r.full) fullAt.push(i);
    }
    // ~120 bytes a record: the first batch reaches 1000 bytes at its 8th or 9th record and keeps
    // filling to 4000; the record that opens the second batch is not "full" on its own.
    expect(a.queue('t', 0).batches).toHaveLength(1);
    expect(fullAt).toHaveLength(1);
    expect(a.queue('t', 0).batches[0]!.builder.sizeInBytes).toBeGreaterThan(1000);
    const big = acc({ batchSize: 100 });
    expect(big.append('t', 0, { value }, 0).full).toBe(true);
  });

  it('holds a batch for lingerMs unless it is full or a flush is on', () => {
    const a = acc();
    a.append('t', 0, { value }, 100);
    expect(a.drain(102, false, leaderOf, always).byBroker.size).toBe(0);
    expect(a.drain(102, false, leaderOf, always).nextDueMs).toBe(105);
    expect(a.drain(102, true, leaderOf, always).byBroker.get(0)).toHaveLength(1);
    const b = acc();
    for (let i = 0; i < 10; i++) b.append('t', 0, { value }, 100);
    expect(b.drain(100, false, leaderOf, always).byBroker.get(0)).toHaveLength(1);
  });

  it('groups due batches per leader broker: one request per broker', () => {
    const a = acc();
    a.append('t', 0, { value }, 0);
    a.append('t', 1, { value }, 0);
    a.append('t', 2, { value }, 0);
    a.append('u', 0, { value }, 0);
    const { byBroker } = a.drain(10, false, leaderOf, always);
    expect([...byBroker.keys()].sort()).toEqual([0, 3]);
    expect(
      byBroker
        .get(0)!
        .map((b) => `${b.topic}-${b.partition}`)
        .sort(),
    ).toEqual(['t-0', 't-2']);
    expect(
      byBroker
        .get(3)!
        .map((b) => `${b.topic}-${b.partition}`)
        .sort(),
    ).toEqual(['t-1', 'u-0']);
  });

  it('keeps one batch in flight per partition and skips brokers at their in-flight limit', () => {
    const a = acc({ batchSize: 100 });
    a.append('t', 0, { value }, 0);
    a.append('t', 0, { value: Buffer.alloc(5000) }, 0);
    expect(a.queue('t', 0).batches).toHaveLength(2);
    expect(a.drain(10, false, leaderOf, always).byBroker.get(0)).toHaveLength(1);
    expect(a.drain(10, false, leaderOf, always).byBroker.size).toBe(0);
    a.append('t', 1, { value }, 0);
    expect(a.drain(10, false, leaderOf, (b) => b !== 3).byBroker.size).toBe(0);
  });

  it('reports a due batch without a leader', () => {
    const a = acc();
    a.append('nope', 0, { value }, 0);
    expect(a.drain(10, false, leaderOf, always).leaderMissing).toBe(true);
  });

  it("splits a broker's batches over requests of at most requestBytesMax", () => {
    const a = acc({ batchSize: 100 });
    a.append('t', 0, { value }, 0);
    a.append('t', 2, { value }, 0);
    const r = a.drain(10, false, leaderOf, always, 200);
    expect(r.byBroker.get(0)).toHaveLength(1);
    expect(r.nextDueMs).toBe(10);
  });

  it('numbers batches per partition and keeps the bytes and sequence across a retry', () => {
    const a = acc();
    const id = { producerId: 7, producerEpoch: 0, generation: 1 };
    for (let i = 0; i < 3; i++) a.append('t', 0, { value }, 0);
    const [first] = a.drain(10, false, leaderOf, always).byBroker.get(0)!;
    const bytes = Buffer.from(a.seal(first!, id));
    expect(first!.baseSequence).toBe(0);
    a.requeue(first!, 10, 100);
    expect(a.drain(50, false, leaderOf, always).byBroker.size).toBe(0);
    const [again] = a.drain(110, false, leaderOf, always).byBroker.get(0)!;
    expect(again).toBe(first);
    expect(a.seal(again!, id).equals(bytes)).toBe(true);
    a.complete(again!);
    a.append('t', 0, { value }, 120);
    const [second] = a.drain(200, false, leaderOf, always).byBroker.get(0)!;
    const header = decodeBatch(a.seal(second!, id)).header;
    expect(header).toMatchObject({ producerId: 7, producerEpoch: 0, baseSequence: 3, recordCount: 1 });
    // A new producer id restarts sequences at 0.
    a.complete(second!);
    a.append('t', 0, { value }, 300);
    const [third] = a.drain(400, false, leaderOf, always).byBroker.get(0)!;
    expect(decodeBatch(a.seal(third!, { producerId: 8, producerEpoch: 0, generation: 2 })).header.baseSequence).toBe(0);
  });

  it('expires batches past the delivery timeout, oldest first, never one in flight', () => {
    const a = acc();
    a.append('t', 0, { value }, 0);
    a.append('t', 1, { value }, 0);
    a.drain(10, false, (_t, p) => (p === 0 ? 0 : undefined), always);
    const expired = a.expire(1000, 1000);
    expect(expired.map((b) => b.partition)).toEqual([1]);
    expect(a.batchCount).toBe(1);
  });

  it('resolves every record of a batch with consecutive offsets', () => {
    const a = acc();
    const got: number[] = [];
    for (let i = 0; i < 3; i++) a.append('t', 0, { value }, 0, undefined, (m) => got.push(m.offset));
    a.queue('t', 0).batches[0]!.succeed(40);
    expect(got).toEqual([40, 41, 42]);
  });
  it('sends up to inflightBatchesMax batches of a partition in order, once one was acknowledged', () => {
    const a = new RecordAccumulator({ batchSize: 100, batchSizeMax: 150, lingerMs: 5, inflightBatchesMax: 3, idempotent: true });
    const id = { producerId: 7, producerEpoch: 0, generation: 1 };
    for (let i = 0; i < 6; i++) a.append('t', 0, { value }, 0);
    expect(a.queue('t', 0).batches).toHaveLength(6);
    // Nothing acknowledged yet: one at a time (a new leader would accept any first sequence).
    const [first] = a.drain(10, false, leaderOf, always).byBroker.get(0)!;
    a.seal(first!, id);
    expect(a.drain(10, false, leaderOf, always).byBroker.size).toBe(0);
    a.complete(first!, true);
    const sent = a.drain(10, false, leaderOf, always).byBroker.get(0)!;
    expect(sent).toEqual(a.queue('t', 0).batches.slice(0, 3));
    for (const b of sent) a.seal(b, id);
    expect(sent.map((b) => b.baseSequence)).toEqual([1, 2, 3]);
    // The oldest fails: it goes again before any batch not yet sent, with its own sequence.
    a.requeue(sent[0]!, 10, 100);
    expect(a.hasOlderUnfinished(sent[1]!)).toBe(true);
    expect(a.hasOlderUnfinished(sent[0]!)).toBe(false);
    const [again] = a.drain(200, false, leaderOf, always).byBroker.get(0)!;
    expect(again).toBe(sent[0]);
    expect(again!.baseSequence).toBe(1);
  });

  it('without idempotence sends up to inflightBatchesMax batches of a partition from the first one (acks 1 and 0)', () => {
    const a = new RecordAccumulator({ batchSize: 100, batchSizeMax: 150, lingerMs: 5, inflightBatchesMax: 3 });
    for (let i = 0; i < 6; i++) a.append('t', 0, { value }, 0);
    const sent = a.drain(10, false, leaderOf, always).byBroker.get(0)!;
    expect(sent).toEqual(a.queue('t', 0).batches.slice(0, 3));
    for (const b of sent) a.seal(b, undefined);
    expect(a.drain(10, false, leaderOf, always).byBroker.size).toBe(0);
    // One answered: one more goes, the oldest not yet sent.
    a.complete(sent[1]!, true);
    const [next] = a.drain(10, false, leaderOf, always).byBroker.get(0)!;
    expect(next).toBe(a.queue('t', 0).batches[2]);
    // inflightBatchesMax 1 keeps a partition's batches one at a time (Kafka's max.in.flight 1).
    const one = new RecordAccumulator({ batchSize: 100, batchSizeMax: 150, lingerMs: 5, inflightBatchesMax: 1 });
    for (let i = 0; i < 3; i++) one.append('t', 0, { value }, 0);
    expect(one.drain(10, false, leaderOf, always).byBroker.get(0)).toHaveLength(1);
    expect(one.drain(10, false, leaderOf, always).byBroker.size).toBe(0);
  });

  it('knows when a batch directly follows the last one acknowledged in order (an overtaking refusal is not a gap)', () => {
    const a = new RecordAccumulator({ batchSize: 100, batchSizeMax: 150, lingerMs: 5, inflightBatchesMax: 3, idempotent: true });
    const id = { producerId: 7, producerEpoch: 0, generation: 1 };
    for (let i = 0; i < 4; i++) a.append('t', 0, { value }, 0);
    const [first] = a.drain(10, false, leaderOf, always).byBroker.get(0)!;
    a.seal(first!, id);
    a.complete(first!, true);
    const sent = a.drain(10, false, leaderOf, always).byBroker.get(0)!;
    for (const b of sent) a.seal(b, id);
    const [second, third, fourth] = sent;
    // Nothing after `first` acknowledged yet: the second follows it, the third does not.
    expect(a.followsAcknowledged(second!)).toBe(true);
    expect(a.followsAcknowledged(third!)).toBe(false);
    // The second's answer arrives first; the third, refused when it overtook it, now follows.
    a.complete(second!, true);
    expect(a.followsAcknowledged(third!)).toBe(true);
    // A younger batch acknowledged out of order does not move the mark past an unfinished one.
    a.complete(fourth!, true);
    expect(a.followsAcknowledged(third!)).toBe(true);
    // A new producer id starts over.
    a.append('t', 0, { value }, 0);
    const [fifth] = a.drain(20, false, leaderOf, always).byBroker.get(0)!;
    a.seal(fifth!, { producerId: 8, producerEpoch: 0, generation: 2 });
    expect(a.followsAcknowledged(third!)).toBe(false);
    expect(a.followsAcknowledged(fifth!)).toBe(false);
  });

  describe('producer epochs (KIP-360)', () => {
    const gen1 = { producerId: 7, producerEpoch: 0, generation: 1 };
    const gen2 = { producerId: 7, producerEpoch: 1, generation: 2 };
    /** Four one-record batches of t-0, the first acknowledged under gen1, the other three sealed and in flight. */
    const setup = () => {
      const a = new RecordAccumulator({ batchSize: 100, batchSizeMax: 150, lingerMs: 0, inflightBatchesMax: 5, idempotent: true });
      for (let i = 0; i < 4; i++) a.append('t', 0, { value }, 0);
      const [first] = a.drain(10, false, leaderOf, always, Infinity, 1).byBroker.get(0)!;
      a.seal(first!, gen1);
      a.complete(first!, true);
      const sent = a.drain(10, false, leaderOf, always, Infinity, 1).byBroker.get(0)!;
      for (const b of sent) a.seal(b, gen1);
      expect(sent.map((b) => b.baseSequence)).toEqual([1, 2, 3]);
      return { a, sent, q: a.queue('t', 0) };
    };

    it('re-sequences a partition only once nothing of it is in flight, oldest first from sequence 0', () => {
      const { a, sent, q } = setup();
      // The oldest is refused as out of order: the producer moves to gen2 and asks for re-sequencing.
      a.requeue(sent[0]!, 10, 0);
      a.requestResequence(sent[0]!);
      // Two batches of the old sequence are still in flight: nothing goes, nothing is unsealed.
      expect(a.drain(20, false, leaderOf, always, Infinity, 2).byBroker.size).toBe(0);
      expect(sent.map((b) => b.sealed)).toEqual([true, true, true]);
      a.requeue(sent[1]!, 20, 0);
      a.requeue(sent[2]!, 20, 0);
      // All answered: unsealed, then sent again in order, one at a time until one is acknowledged.
      const again = a.drain(30, false, leaderOf, always, Infinity, 2).byBroker.get(0)!;
      expect(again).toEqual([sent[0]]);
      expect(sent.map((b) => b.sealed)).toEqual([false, false, false]);
      const bytes = decodeBatch(a.seal(again[0]!, gen2)).header;
      expect(bytes).toMatchObject({ producerId: 7, producerEpoch: 1, baseSequence: 0 });
      a.complete(again[0]!, true);
      const rest = a.drain(40, false, leaderOf, always, Infinity, 2).byBroker.get(0)!;
      expect(rest).toEqual([sent[1], sent[2]]);
      expect(rest.map((b) => decodeBatch(a.seal(b, gen2)).header.baseSequence)).toEqual([1, 2]);
      expect(q.resequence).toBe(false);
    });

    it('another partition finishes its old-epoch batches with their old bytes before it seals one under the new epoch', () => {
      const { a, sent } = setup();
      const oldBytes = Buffer.from(sent[0]!.encoded!);
      a.append('t', 0, { value }, 10); // a fifth batch, not sealed yet
      // The producer moved to gen2 because of another partition. A failed old batch goes again, same bytes.
      a.requeue(sent[0]!, 10, 0);
      const [retry] = a.drain(20, false, leaderOf, always, Infinity, 2).byBroker.get(0)!;
      expect(retry).toBe(sent[0]);
      expect(a.seal(retry!, gen2).equals(oldBytes)).toBe(true);
      // The new batch waits while any old-epoch batch is in flight...
      expect(a.drain(20, false, leaderOf, always, Infinity, 2).byBroker.size).toBe(0);
      for (const b of sent) a.complete(b, true);
      // ...then starts the new epoch at sequence 0.
      const [fifth] = a.drain(30, false, leaderOf, always, Infinity, 2).byBroker.get(0)!;
      expect(decodeBatch(a.seal(fifth!, gen2)).header).toMatchObject({ producerEpoch: 1, baseSequence: 0 });
    });

    it('a batch sent once never takes more records, even unsealed', () => {
      const a = new RecordAccumulator({ batchSize: 1000, batchSizeMax: 4000, lingerMs: 0 });
      a.append('t', 0, { value }, 0);
      const [only] = a.drain(10, false, leaderOf, always, Infinity, 1).byBroker.get(0)!;
      a.seal(only!, gen1);
      only!.attempts++; // as the producer counts each send
      a.requeue(only!, 10, 0);
      a.requestResequence(only!);
      expect(a.drain(20, false, leaderOf, always, Infinity, 2).byBroker.get(0)).toEqual([only]);
      expect(only!.sealed).toBe(false);
      a.requeue(only!, 20, 0);
      // Room for many more records, but it was sent: a new batch opens.
      expect(a.append('t', 0, { value }, 30).opened).toBe(true);
      expect(only!.recordCount).toBe(1);
    });
  });
});
