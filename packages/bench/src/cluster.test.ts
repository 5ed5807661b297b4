import { describe, expect, it } from 'vitest';
import { clusterCpuMeter, cpuSeconds } from './cluster.ts';

describe('cluster CPU from /proc', () => {
  it('reads a live process and grows with the work it does; a gone process reads undefined', () => {
    const before = cpuSeconds(process.pid);
    expect(before).toBeGreaterThanOrEqual(0);
    const until = performance.now() + 150;
    let x = 0;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    expect(cpuSeconds(process.pid)!).toBeGreaterThan(before!);
    expect(cpuSeconds(2 ** 22 + 12345)).toBeUndefined();
  });

  it('meters a cluster only with launcher state, and not across a process that went away', () => {
    expect(clusterCpuMeter(undefined)()).toBeUndefined();
    const state = { processes: [{ name: 'me', pid: process.pid, port: 1, args: [], logFile: '' }] } as never;
    expect(clusterCpuMeter(state)()).toBeGreaterThanOrEqual(0);
    const gone = { processes: [{ name: 'gone', pid: 2 ** 22 + 12345, port: 1, args: [], logFile: '' }] } as never;
    expect(clusterCpuMeter(gone)()).toBeUndefined();
  });
});
