import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clusterLayout } from './layout.ts';
import { localAddBroker, offsetsTopicArgs, waitForClusterStop, type ClusterStateFile } from './local-cluster.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-launcher-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A state file whose one process is "stopped": this test's pid, whose command line is no broker. */
function writeStoppedCluster(extra: Partial<ClusterStateFile> = {}): void {
  const state: ClusterStateFile = {
    dataDir: dir,
    layout: clusterLayout({ basePort: 29090, brokers: 1 }),
    processes: [{ name: 'broker-0', pid: process.pid, port: 29092, args: [], logFile: join(dir, 'logs', 'broker-0.log') }],
    brokerArgs: [],
    controllerArgs: [],
    ...extra,
  };
  writeFileSync(join(dir, 'cluster.json'), JSON.stringify(state));
}

describe('waitForClusterStop', () => {
  it("says 'down' when localDown marked the state file, 'exited' when the processes ended without it", async () => {
    writeStoppedCluster({ downRequestedMs: Date.now() });
    expect(await waitForClusterStop(dir, { pollMs: 10 })).toBe('down');
    writeStoppedCluster();
    expect(await waitForClusterStop(dir, { pollMs: 10 })).toBe('exited');
  });

  it("answers 'aborted' as soon as the signal fires, and at once when it already has", async () => {
    const controller = new AbortController();
    controller.abort();
    expect(await waitForClusterStop(dir, { signal: controller.signal, pollMs: 10 })).toBe('aborted');
    // No state file would read as 'exited' on the first poll; a long poll period leaves only the signal.
    const later = new AbortController();
    const waiting = waitForClusterStop(dir, { signal: later.signal, pollMs: 60_000 });
    later.abort();
    expect(await waiting).toBe('aborted');
  });
});

describe('localAddBroker', () => {
  it('refuses when the cluster is not running, and leaves the state file as it was', async () => {
    writeStoppedCluster();
    const before = readFileSync(join(dir, 'cluster.json'), 'utf8');
    await expect(localAddBroker(dir)).rejects.toThrow(/controller .* is not running/);
    expect(readFileSync(join(dir, 'cluster.json'), 'utf8')).toBe(before);
    await expect(localAddBroker(join(dir, 'nothing-here'))).rejects.toThrow(/no local cluster/);
  });
});

describe('offsetsTopicArgs', () => {
  it.each([
    [1, ['--offsets-topic-replication-factor', '1']],
    [2, ['--offsets-topic-replication-factor', '2']],
    [3, []],
    [6, []],
  ])('gives the brokers of a %i-broker cluster %j, so __consumer_offsets can be created', (brokers, args) => {
    expect(offsetsTopicArgs(brokers)).toEqual(args);
  });
});
