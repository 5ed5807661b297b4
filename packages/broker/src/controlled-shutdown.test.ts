import { describe, expect, it } from 'vitest';
import type { BrokerId, BrokerRegistration } from '@tributary/protocol';
import { handOverComplete, leadershipsToHandOver, type LeadershipView, type ShutdownMetadataView } from './controlled-shutdown.ts';

const ME = 0;

function metadata(version: number, alive: Record<number, boolean>, myEpoch = 4): ShutdownMetadataView {
  const brokers = new Map<BrokerId, BrokerRegistration>();
  for (const [id, isAlive] of Object.entries(alive)) {
    brokers.set(Number(id), {
      id: Number(id),
      rack: 'r',
      epoch: Number(id) === ME ? myEpoch : 0,
      incarnationId: `inc-${id}`,
      logDirId: `dir-${id}`,
      internal: { host: 'h', port: 1 },
      external: { host: 'h', port: 1 },
      alive: isAlive,
      configs: {},
    });
  }
  return { version, broker: (id) => brokers.get(id), isAlive: (id) => brokers.get(id)?.alive === true };
}

function leads(partition: number, isr: BrokerId[]): LeadershipView {
  return { topic: 't', partition, isLeader: true, isr };
}

function follows(partition: number, isr: BrokerId[]): LeadershipView {
  return { topic: 't', partition, isLeader: false, isr };
}

describe('leadershipsToHandOver', () => {
  it.each([
    // [case, partitions, alive brokers, partitions waited for]
    ['a leadership with a live ISR peer is waited for', [leads(0, [0, 1])], { 0: true, 1: true }, [0]],
    ['the ISR is only this broker (RF 1, or the last member): not waited for', [leads(0, [0])], { 0: true }, []],
    ['every ISR peer fenced: not waited for', [leads(0, [0, 1, 2])], { 0: true, 1: false, 2: false }, []],
    ['one of two peers alive: waited for', [leads(0, [0, 1, 2])], { 0: true, 1: false, 2: true }, [0]],
    ['a peer unknown to metadata counts as gone', [leads(0, [0, 9])], { 0: true }, []],
    ['followed partitions are not ours to hand over', [follows(0, [1, 0])], { 0: true, 1: true }, []],
    ['mixed', [leads(0, [0]), leads(1, [0, 3]), leads(2, [0, 4]), follows(3, [3, 0])], { 0: true, 3: true, 4: false }, [1]],
  ] as const)('%s', (_name, partitions, alive, expected) => {
    const m = metadata(10, alive);
    expect(leadershipsToHandOver(partitions, ME, (id) => m.isAlive(id)).map((p) => p.partition)).toEqual(expected);
  });
});

describe('handOverComplete', () => {
  it.each([
    // [case, metadata version, alive brokers (0 = this one), my epoch in metadata, partitions, may stop]
    ['still leads a partition a live peer will take: wait', 11, { 0: true, 1: true }, 4, [leads(0, [0, 1])], false],
    ['the move arrived (now a follower): stop', 11, { 0: true, 1: true }, 4, [follows(0, [1])], true],
    ['only leaderships no one can take: stop at once, metadata or not', 10, { 0: true, 1: false }, 4, [leads(0, [0]), leads(1, [0, 1])], true],
    ['metadata newer than the request shows this incarnation fenced: every move is visible, stop', 11, { 0: false, 1: true }, 4, [leads(0, [0, 1])], true],
    ['a fence older than the request says nothing about the moves: wait', 10, { 0: false, 1: true }, 4, [leads(0, [0, 1])], false],
    ['a fence of an earlier incarnation says nothing either: wait', 11, { 0: false, 1: true }, 3, [leads(0, [0, 1])], false],
  ] as const)('%s', (_name, version, alive, myEpoch, partitions, expected) => {
    expect(handOverComplete(metadata(version, alive, myEpoch), 10, ME, 4, partitions)).toBe(expected);
  });
});
