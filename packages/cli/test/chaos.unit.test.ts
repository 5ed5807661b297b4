// `tributary chaos check FILE` end to end through run(argv, io), and chaos's usage errors
// (none of these start a cluster).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../src/index.ts';
import { parseDuration } from '../src/commands/chaos.ts';

async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'tributary-chaos-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function historyFile(name: string, finalRecords: [number, string][]): string {
  const lines = [
    { kind: 'header', topic: 'chaos-1-1', partitions: 1, seed: 1, durationMs: 60000, faults: ['kill'], target: 'local', startedMs: 0 },
    { kind: 'send', process: 'producer-0', partition: 0, value: '0-0', startMs: 1, endMs: 2, outcome: { type: 'ok', offset: 0 } },
    { kind: 'send', process: 'producer-0', partition: 0, value: '0-1', startMs: 3, endMs: 4, outcome: { type: 'ok', offset: 1 } },
    { kind: 'read', process: 'consumer-0', partition: 0, offset: 0, value: '0-0', atMs: 5 },
    { kind: 'final', partition: 0, logStartOffset: 0, highWatermark: finalRecords.length, records: finalRecords },
  ];
  const path = join(dir, name);
  writeFileSync(path, lines.map((l) => JSON.stringify(l)).join('\n'));
  return path;
}

describe('tributary chaos check', () => {
  it('passes a correct history', async () => {
    const r = await cli([
      'chaos',
      'check',
      historyFile('good.jsonl', [
        [0, '0-0'],
        [1, '0-1'],
      ]),
    ]);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(/verdict: no violations/);
    expect(r.out.join('\n')).toMatch(/unseen: 1/);
  });

  it('fails a history with a lost write and prints the offending record', async () => {
    const file = historyFile('lost.jsonl', [[0, '0-0']]);
    const r = await cli(['chaos', 'check', file]);
    expect(r.code).toBe(1);
    expect(r.out.join('\n')).toMatch(/\[lost-write\] partition 0: '0-1' acknowledged to producer-0 at offset 1/);
    const json = await cli(['chaos', 'check', file, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out[0]!)).toMatchObject({ violations: 1, counts: { 'lost-write': 1 }, seed: 1, acknowledged: 2 });
  });
});

describe('tributary chaos usage', () => {
  it.each([
    [['chaos', '--duration', '5s'], /--duration must be at least 10s/],
    [['chaos', '--faults', 'kill,meteor'], /unknown fault 'meteor'/],
    [['chaos', '--faults', 'partition'], /need --target docker/],
    [['chaos', '--target', 'cloud'], /--target must be local or docker/],
    [['chaos', '--seed', 'x'], /--seed must be an integer/],
  ])('%j is a usage error', async (argv, message) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.err.join('\n')).toMatch(message);
  });

  it('parses durations', () => {
    expect(parseDuration('120s')).toBe(120_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1500ms')).toBe(1500);
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('soon')).toBeUndefined();
  });
});
