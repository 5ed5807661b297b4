import { describe, expect, it } from 'vitest';
import { encodeMsgpack, scanMsgpack } from '@tributary/protocol';
import { ADMIN_BODY_BYTES_MAX, ADMIN_ELEMENTS_MAX, PLAN_CALL_PARTITIONS_MAX, planChunks } from './reassign-ops.ts';

/** The alter-partition-reassignments body of one chunk, as the client sends it. */
function body(chunk: readonly { topic: string; partition: number; replicas: readonly number[] | null }[]): Buffer {
  return encodeMsgpack({ partitions: chunk.map((e) => ({ topic: e.topic, partition: e.partition, replicas: e.replicas === null ? null : [...e.replicas] })) });
}

describe('planChunks: a plan split into admin calls the brokers and the controller accept', () => {
  it.each([
    // [case, topic, RF, first broker id, partitions, calls]
    ['3,000 partitions of demo, RF 3', 'demo', 3, 0, 3000, 3],
    ['2,000 partitions of a 249-character topic, RF 3', 't'.repeat(249), 3, 0, 2000, 12],
    ['1,000 partitions, RF 12, broker ids above 65,535', 'demo', 12, 100_000, 1000, 2],
    ['an empty plan', 'demo', 3, 0, 0, 0],
  ])('%s', (_name, topic, rf, firstId, count, calls) => {
    const entries = Array.from({ length: count }, (_, partition) => ({ topic, partition, replicas: Array.from({ length: rf }, (_, i) => firstId + i) }));
    const chunks = planChunks(entries);
    expect(chunks.length).toBe(calls);
    expect(chunks.flat()).toEqual(entries);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(PLAN_CALL_PARTITIONS_MAX);
      const bytes = body(chunk);
      expect(bytes.length).toBeLessThanOrEqual(ADMIN_BODY_BYTES_MAX);
      expect(scanMsgpack(bytes, { elementsMax: ADMIN_ELEMENTS_MAX, depthMax: 8 }).elements).toBeLessThanOrEqual(ADMIN_ELEMENTS_MAX);
    }
  });

  it('cancels (null targets) too', () => {
    const entries = Array.from({ length: 2500 }, (_, partition) => ({ topic: 'demo', partition, replicas: null }));
    expect(planChunks(entries).map((c) => c.length)).toEqual([1000, 1000, 500]);
  });
});
