import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '@tributary/testkit';
import { judgeMetadata } from './controller-channel.ts';
import { DataDirIdentity, META_PROPERTIES_FILE, formatMetaProperties, parseMetaProperties } from './meta-properties.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
function dir(): string {
  const { dir, cleanup } = tempDir('tributary-meta-');
  cleanups.push(cleanup);
  return dir;
}

describe('meta.properties', () => {
  it('round-trips, and refuses files it cannot trust', () => {
    const meta = { nodeId: 3, directoryId: 'Fq1c2Sg8QiO6lPkd_5YvOw', clusterId: 'c-1' };
    expect(parseMetaProperties(formatMetaProperties(meta))).toEqual(meta);
    expect(parseMetaProperties('version=1\nnode.id=3\ndirectory.id=Fq1c2Sg8QiO6lPkd_5YvOw\n')).toEqual({ ...meta, clusterId: '' });
    expect(parseMetaProperties('version=2\nnode.id=3\ndirectory.id=Fq1c2Sg8QiO6lPkd_5YvOw\n')).toBeUndefined();
    expect(parseMetaProperties('version=1\nnode.id=x\ndirectory.id=Fq1c2Sg8QiO6lPkd_5YvOw\n')).toBeUndefined();
    expect(parseMetaProperties('version=1\nnode.id=3\n')).toBeUndefined();
  });

  it('is made once with a new directory id, kept across starts, and made anew when the data dir is lost', () => {
    const d = dir();
    const first = new DataDirIdentity(d, 2);
    expect(first.created).toBe(true);
    expect(first.clusterId).toBe('');
    first.joinCluster('cluster-a');
    const again = new DataDirIdentity(d, 2);
    expect(again.created).toBe(false);
    expect(again.directoryId).toBe(first.directoryId);
    expect(again.clusterId).toBe('cluster-a');
    rmSync(join(d, META_PROPERTIES_FILE));
    const lost = new DataDirIdentity(d, 2);
    expect(lost.created).toBe(true);
    expect(lost.directoryId).not.toBe(first.directoryId);
  });

  it("refuses another broker's data dir, and a file it cannot parse", () => {
    const d = dir();
    new DataDirIdentity(d, 1);
    expect(() => new DataDirIdentity(d, 4)).toThrow(/belongs to broker 1, not 4/);
    writeFileSync(join(d, META_PROPERTIES_FILE), 'garbage');
    expect(() => new DataDirIdentity(d, 1)).toThrow(/not a valid meta.properties/);
    expect(readFileSync(join(d, META_PROPERTIES_FILE), 'utf8')).toBe('garbage');
  });
});

describe('judgeMetadata', () => {
  it.each([
    ['first metadata of a new data dir', { clusterId: '', version: -1 }, { clusterId: 'a', version: 5 }, 'apply'],
    ['newer, same cluster', { clusterId: 'a', version: 5 }, { clusterId: 'a', version: 9 }, 'apply'],
    ['the version held', { clusterId: 'a', version: 9 }, { clusterId: 'a', version: 9 }, 'ignore'],
    [
      'another cluster (the controller lost its data dir and made a new cluster id)',
      { clusterId: 'a', version: 9 },
      { clusterId: 'b', version: 20 },
      /cluster b.*cluster a/,
    ],
    ['from the past (a controller restored from an old copy)', { clusterId: 'a', version: 9 }, { clusterId: 'a', version: 4 }, /version 4.*older.*version 9/],
  ] as const)('%s', (_name, held, incoming, want) => {
    const verdict = judgeMetadata(held, incoming);
    if (typeof want === 'string') expect(verdict).toBe(want);
    else expect(typeof verdict === 'object' ? verdict.refuse : verdict).toMatch(want);
  });
});
