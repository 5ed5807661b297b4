// Test-only helpers (a devDependency, never shipped): polling instead of sleeping, a clock and a
// random source that a seed replays, temp dirs and free ports.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EventuallyOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Calls `fn` until it returns without throwing (and, if it returns a boolean, returns true),
 * then yields its result. Fails with the last error after `timeoutMs`. Tests poll with this
 * instead of sleeping (STYLE.md § Tests).
 */
export async function eventually<T>(fn: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<Exclude<T, false>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== false) return value as Exclude<T, false>;
      lastError = new Error('condition returned false');
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const err = new Error(`eventually: not true within ${timeoutMs} ms: ${(lastError as Error)?.message ?? lastError}`);
      (err as Error & { cause?: unknown }).cause = lastError;
      throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A clock that only moves when told to. */
export class FakeClock {
  private nowMs: number;
  constructor(startMs = 1_700_000_000_000) {
    this.nowMs = startMs;
  }
  now = (): number => this.nowMs;
  advance(ms: number): number {
    this.nowMs += ms;
    return this.nowMs;
  }
}

/** mulberry32: a small seeded PRNG, so a printed seed replays a run. */
export class SeededRandom {
  readonly seed: number;
  private state: number;
  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.state = this.seed;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(minInclusive: number, maxExclusive: number): number {
    return minInclusive + Math.floor(this.next() * (maxExclusive - minInclusive));
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length)]!;
  }
  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.int(0, 256);
    return out;
  }
}

/** A fresh temp dir and a function that removes it. */
export function tempDir(prefix = 'tributary-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Free ports for a local cluster: the launcher's, so tests, bench and chaos pick them alike. */
export { freeClusterBasePort, freePortBlock } from '@tributary/launcher';
