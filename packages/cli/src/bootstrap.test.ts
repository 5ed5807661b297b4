import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clusterLayout, type ClusterStateFile } from '@tributary/launcher';
import { compactBootstrap, defaultBootstrap, localDataDir } from './bootstrap.ts';

const EVERY_DEFAULT_BROKER = ['127.0.0.1:19092', '127.0.0.1:19093', '127.0.0.1:19094', '127.0.0.1:19095', '127.0.0.1:19096', '127.0.0.1:19097'];

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-bootstrap-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('defaultBootstrap', () => {
  it('is every broker of the default layout (the local cluster and compose alike) when no local cluster runs', () => {
    expect(defaultBootstrap({ TRIBUTARY_DATA_DIR: dir })).toEqual(EVERY_DEFAULT_BROKER);
  });

  it('ignores the layout of a local cluster that is not running, and a state file it cannot read', () => {
    const state: ClusterStateFile = {
      dataDir: dir,
      layout: clusterLayout({ basePort: 29090 }),
      // A pid that is not a broker of ours (this test process): stopped, as far as the launcher can tell.
      processes: [{ name: 'broker-0', pid: process.pid, port: 29092, args: [], logFile: join(dir, 'logs', 'broker-0.log') }],
      brokerArgs: [],
      controllerArgs: [],
    };
    writeFileSync(join(dir, 'cluster.json'), JSON.stringify(state));
    expect(defaultBootstrap({ TRIBUTARY_DATA_DIR: dir })).toEqual(EVERY_DEFAULT_BROKER);
    writeFileSync(join(dir, 'cluster.json'), '{ torn');
    expect(defaultBootstrap({ TRIBUTARY_DATA_DIR: dir })).toEqual(EVERY_DEFAULT_BROKER);
  });

  it('looks for the local cluster where `local up` puts it: --data-dir, else $TRIBUTARY_DATA_DIR, else ./.tributary', () => {
    expect(localDataDir({}, '/x/y')).toBe('/x/y');
    expect(localDataDir({ TRIBUTARY_DATA_DIR: '/a' }, '/x/y')).toBe('/x/y');
    expect(localDataDir({ TRIBUTARY_DATA_DIR: '/a' })).toBe('/a');
    expect(localDataDir({})).toBe(join(process.cwd(), '.tributary'));
  });
});

describe('compactBootstrap', () => {
  it.each([
    [EVERY_DEFAULT_BROKER, '127.0.0.1:19092-19097'],
    [['127.0.0.1:19092'], '127.0.0.1:19092'],
    [['127.0.0.1:19092', '127.0.0.1:19094', '127.0.0.1:19095'], '127.0.0.1:19092,127.0.0.1:19094-19095'],
    [['a:1', 'b:2', 'b:3'], 'a:1,b:2-3'],
    [['[::1]:9092', '[::1]:9093'], '[::1]:9092-9093'],
  ])('%j -> %s', (list, expected) => {
    expect(compactBootstrap(list)).toBe(expected);
  });
});
