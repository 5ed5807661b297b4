// The foreground's view of the processes' output: it follows their log files (like `tail -F`)
// rather than their pipes, so a process that `tributary local restart` started from another
// terminal — not a child of the foreground — is shown as well, from the same file.

import { closeSync, openSync, readSync, statSync } from 'node:fs';

interface Followed {
  path: string;
  /** How far the file has been read. */
  offset: number;
  /** Bytes after the last newline read, waiting for the rest of their line. */
  partial: Buffer;
}

/** A line longer than this is handed on in pieces rather than held back for ever. */
const PARTIAL_LINE_BYTES_MAX = 1 << 20;
const READ_CHUNK_BYTES = 1 << 16;

export class LogFollower {
  private readonly files = new Map<string, Followed>();
  private timer: NodeJS.Timeout | undefined;
  private readonly onLine: (name: string, line: string) => void;
  private readonly pollMs: number;

  constructor(onLine: (name: string, line: string) => void, options: { pollMs?: number } = {}) {
    this.onLine = onLine;
    this.pollMs = options.pollMs ?? 100;
  }

  /** Follows `path` under `name` from its current end (what is already there is old news). */
  follow(name: string, path: string): void {
    if (this.files.has(name)) return;
    this.files.set(name, { path, offset: sizeOf(path), partial: Buffer.alloc(0) });
    // Ref'd: while the foreground follows logs, it stays.
    this.timer ??= setInterval(() => this.poll(), this.pollMs);
  }

  /** Reads what every file gained since the last look and hands on its complete lines. */
  poll(): void {
    for (const [name, file] of this.files) this.readNew(name, file);
  }

  /** Reads the rest, hands on any unfinished last lines, and stops. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.poll();
    for (const [name, file] of this.files) {
      if (file.partial.length > 0) this.onLine(name, file.partial.toString('utf8'));
      file.partial = Buffer.alloc(0);
    }
    this.files.clear();
  }

  private readNew(name: string, file: Followed): void {
    const size = sizeOf(file.path);
    // A file that shrank was replaced or truncated: start again from its beginning.
    if (size < file.offset) {
      file.offset = 0;
      file.partial = Buffer.alloc(0);
    }
    if (size === file.offset) return;
    let fd: number;
    try {
      fd = openSync(file.path, 'r');
    } catch {
      return;
    }
    try {
      const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
      while (file.offset < size) {
        const n = readSync(fd, buffer, 0, Math.min(READ_CHUNK_BYTES, size - file.offset), file.offset);
        if (n === 0) break;
        file.offset += n;
        this.split(name, file, buffer.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
  }

  private split(name: string, file: Followed, chunk: Buffer): void {
    let data = file.partial.length > 0 ? Buffer.concat([file.partial, chunk]) : chunk;
    for (let newline = data.indexOf(10); newline >= 0; newline = data.indexOf(10)) {
      const line = data.subarray(0, newline).toString('utf8');
      if (line !== '') this.onLine(name, line);
      data = data.subarray(newline + 1);
    }
    if (data.length > PARTIAL_LINE_BYTES_MAX) {
      this.onLine(name, data.toString('utf8'));
      data = Buffer.alloc(0);
    }
    // A copy: `chunk` is the reused read buffer.
    file.partial = Buffer.from(data);
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
