import { describe, expect, it } from 'vitest';
import { matchProduceAnswers } from './produce-answers.ts';

describe('matchProduceAnswers', () => {
  it('gives each of several batches of one partition its own answer, in order', () => {
    // Found by `tributary chaos` (seed 3): two batches of partition 1 in one request were both
    // acknowledged at the second one's offset, so the first batch's record was reported at an
    // offset holding another record (lost-write + inconsistent-offsets).
    const sent = [
      { topic: 't', partition: 1, id: 'older' },
      { topic: 't', partition: 2, id: 'other' },
      { topic: 't', partition: 1, id: 'younger' },
    ];
    const answers = [
      { topic: 't', partition: 1, baseOffset: 5498 },
      { topic: 't', partition: 2, baseOffset: 10 },
      { topic: 't', partition: 1, baseOffset: 5499 },
    ];
    expect(matchProduceAnswers(sent, answers).map((a) => a?.baseOffset)).toEqual([5498, 10, 5499]);
  });

  it('leaves a batch without an answer undefined', () => {
    const sent = [
      { topic: 't', partition: 0 },
      { topic: 't', partition: 0 },
      { topic: 'u', partition: 0 },
    ];
    expect(matchProduceAnswers(sent, [{ topic: 't', partition: 0, baseOffset: 3 }])).toEqual([
      { topic: 't', partition: 0, baseOffset: 3 },
      undefined,
      undefined,
    ]);
    expect(matchProduceAnswers(sent, undefined)).toEqual([undefined, undefined, undefined]);
  });
});
