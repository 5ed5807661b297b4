import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogFollower } from './log-follower.ts';

let dir: string;
let lines: [string, string][];
let follower: LogFollower;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-log-follower-'));
  lines = [];
  // A poll period no test waits for: each test polls by hand.
  follower = new LogFollower((name, line) => lines.push([name, line]), { pollMs: 60_000 });
});
afterEach(() => {
  follower.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('LogFollower', () => {
  it('hands on the lines written after follow(), per file, not what was there before', () => {
    const a = join(dir, 'broker-0.log');
    const b = join(dir, 'controller.log');
    writeFileSync(a, 'from an earlier run\n');
    follower.follow('broker-0', a);
    follower.follow('controller', b);
    appendFileSync(a, '{"msg":"one"}\n{"msg":"two"}\n');
    writeFileSync(b, 'started\n');
    follower.poll();
    expect(lines).toEqual([
      ['broker-0', '{"msg":"one"}'],
      ['broker-0', '{"msg":"two"}'],
      ['controller', 'started'],
    ]);
    follower.poll();
    expect(lines).toHaveLength(3);
  });

  it('holds an unfinished line until its newline, even one split inside a UTF-8 character', () => {
    const path = join(dir, 'broker-1.log');
    follower.follow('broker-1', path);
    const line = Buffer.from('rack → rack-2');
    const cut = line.indexOf(Buffer.from('→')) + 1;
    writeFileSync(path, line.subarray(0, cut));
    follower.poll();
    expect(lines).toEqual([]);
    appendFileSync(path, Buffer.concat([line.subarray(cut), Buffer.from('\n')]));
    follower.poll();
    expect(lines).toEqual([['broker-1', 'rack → rack-2']]);
  });

  it('keeps following a file that another process appends to (a restarted broker), and one that starts over', () => {
    const path = join(dir, 'broker-2.log');
    follower.follow('broker-2', path);
    appendFileSync(path, 'first incarnation\n');
    follower.poll();
    appendFileSync(path, 'restarted\n');
    follower.poll();
    writeFileSync(path, 'new file\n');
    follower.poll();
    expect(lines.map(([, l]) => l)).toEqual(['first incarnation', 'restarted', 'new file']);
  });

  it('on stop reads the rest and hands on a last line without its newline', () => {
    const path = join(dir, 'broker-3.log');
    follower.follow('broker-3', path);
    appendFileSync(path, 'done\nstopp');
    follower.stop();
    expect(lines).toEqual([
      ['broker-3', 'done'],
      ['broker-3', 'stopp'],
    ]);
    appendFileSync(path, 'ed\n');
    follower.poll();
    expect(lines).toHaveLength(2);
  });
});
