import { describe, expect, it } from 'vitest';
import { parseArgs } from './args.ts';

describe('parseArgs', () => {
  it('defaults to every phase and 2,000,000 records', () => {
    const a = parseArgs([]);
    expect(a.only).toEqual([
      'produce',
      'produce-acks1',
      'produce-acks0',
      'consume',
      'latency',
      'latency-peer',
      'failover',
      'scaling',
      'abuse',
      'reassign',
      'rebalance',
      'kafka',
      'broker-death',
      'controller-restart',
      'broker-restart',
      'leader-change-stall',
    ]);
    expect(a.records).toBe(2_000_000);
    expect([a.deathPartitions, a.metadataRecords, a.metadataSnapshots]).toEqual([10_000, 1_000_000, true]);
    expect([a.reassignMB, a.reassignThrottleMBps]).toEqual([1000, 50]);
    expect([a.restartLogGB, a.stallLogGB]).toEqual([10, 2]);
    expect(a.bootstrap).toBeUndefined();
  });

  it('--quick shrinks the runs; --only keeps the canonical order', () => {
    const a = parseArgs(['--quick', '--only', 'latency,produce', '--bootstrap=127.0.0.1:19092', '--json']);
    expect(a.records).toBe(200_000);
    expect(a.reassignMB).toBe(250);
    expect([a.deathPartitions, a.metadataRecords]).toEqual([2000, 100_000]);
    expect([a.restartLogGB, a.stallLogGB]).toEqual([1, 0.5]);
    expect(parseArgs(['--quick', '--restart-log-gb', '2.5', '--stall-log-gb=0.25'])).toMatchObject({ restartLogGB: 2.5, stallLogGB: 0.25 });
    expect(parseArgs(['--only', 'leader-change-stall,broker-restart']).only).toEqual(['broker-restart', 'leader-change-stall']);
    expect(parseArgs(['--metadata-snapshots', 'off', '--metadata-records', '5000']).metadataSnapshots).toBe(false);
    expect(() => parseArgs(['--metadata-snapshots', 'maybe'])).toThrow(/on or off/);
    expect(a.only).toEqual(['produce', 'latency']);
    expect(parseArgs(['--quick', '--reassign-mb', '400', '--reassign-throttle-mbps=20'])).toMatchObject({ reassignMB: 400, reassignThrottleMBps: 20 });
    expect(a.bootstrap).toBe('127.0.0.1:19092');
    expect(a.json).toBe(true);
  });

  it('--secure: produce and consume unless --only says more; never with --bootstrap', () => {
    expect(parseArgs([]).secure).toBe(false);
    expect(parseArgs(['--secure', '--quick'])).toMatchObject({ secure: true, only: ['produce', 'consume'], records: 200_000 });
    expect(parseArgs(['--secure', '--only', 'produce,latency']).only).toEqual(['produce', 'latency']);
    expect(() => parseArgs(['--secure', '--bootstrap', '127.0.0.1:19092'])).toThrow(/leave out --bootstrap/);
    expect(() => parseArgs(['--secure', '--only', 'latency'])).toThrow(/--only must name one of them/);
  });

  it('refuses unknown phases and flags', () => {
    expect(() => parseArgs(['--only', 'nope'])).toThrow(/unknown phase/);
    expect(() => parseArgs(['--fast'])).toThrow(/unknown argument/);
    expect(() => parseArgs(['--records', '0'])).toThrow(/positive/);
    expect(() => parseArgs(['--reassign-mb', '1.5'])).toThrow(/--reassign-mb must be a positive integer/);
    expect(() => parseArgs(['--restart-log-gb', '0'])).toThrow(/--restart-log-gb must be a positive number/);
    expect(() => parseArgs(['--stall-log-gb', 'lots'])).toThrow(/--stall-log-gb must be a positive number/);
    expect(() => parseArgs(['--stall-log-gb', '-1'])).toThrow(/--stall-log-gb must be a positive number/);
  });
});
