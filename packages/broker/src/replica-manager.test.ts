// Metadata passes that open partition logs a few at a time (openBudgetMs), so that a broker keeps
// serving (and heartbeating) while it creates the logs of a big topic.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@tributary/testkit';
import { batch, brokerReg, makeCore, topicState, type Core } from '../test/helpers.ts';

const PARTITIONS = 6;

function md(version: number, withTopic = true) {
  const topics = withTopic ? [topicState('big', Array.from({ length: PARTITIONS }, () => ({ replicas: [0] })))] : [];
  return { clusterId: 'c1', version, brokers: [brokerReg(0)], topics };
}

describe('opening the logs of a big topic over several passes', () => {
  let core: Core;
  afterEach(async () => {
    await core.close();
  });

  it('opens one log per pass with no budget left, answers NOT_LEADER_OR_FOLLOWER for the rest meanwhile, then all', async () => {
    core = await makeCore({ openBudgetMs: 0 });
    core.rm.applyMetadata(md(1));
    expect(core.rm.partitionCount).toBe(1);
    const early = await core.post('/produce', { acks: 1, timeoutMs: 1000, partitions: [{ topic: 'big', partition: PARTITIONS - 1, records: batch(['x']) }] });
    expect(early.body.partitions[0].error.code).toBe('NOT_LEADER_OR_FOLLOWER');
    await eventually(() => core.rm.partitionCount === PARTITIONS);
    for (let p = 0; p < PARTITIONS; p++) expect(core.rm.getPartition('big', p)!.isLeader).toBe(true);
    const later = await core.post('/produce', { acks: 1, timeoutMs: 1000, partitions: [{ topic: 'big', partition: PARTITIONS - 1, records: batch(['x']) }] });
    expect(later.body.partitions[0]).toEqual({ topic: 'big', partition: PARTITIONS - 1, baseOffset: 0 });
  });

  it('a newer version (the topic deleted) stops the passes of the older one: nothing is left open or on disk', async () => {
    core = await makeCore({ openBudgetMs: 0 });
    core.rm.applyMetadata(md(1));
    expect(core.rm.partitionCount).toBe(1);
    core.rm.applyMetadata(md(2, false));
    expect(core.rm.partitionCount).toBe(0);
    await new Promise((r) => setTimeout(r, 50)); // the older version's scheduled passes have run
    expect(core.rm.partitionCount).toBe(0);
    for (let p = 0; p < PARTITIONS; p++) expect(existsSync(join(core.dir, `big-${p}`))).toBe(false);
  });

  it('with the default budget a small topic opens in one pass', async () => {
    core = await makeCore();
    core.rm.applyMetadata(md(1));
    expect(core.rm.partitionCount).toBe(PARTITIONS);
  });
});
