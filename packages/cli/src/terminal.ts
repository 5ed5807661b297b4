// Drawing live views on a terminal (`watch`, `reassign status --watch`, `brokers decommission`):
// redraw a frame in place with ANSI cursor moves, or, when stdout is not a terminal, print frames
// one after another. And the wait between frames, cut short by Ctrl-C.

import type { CliIo } from './command.ts';

// ANSI: cursor home, clear to end of line, clear to end of screen, clear screen, hide/show cursor.
export const HOME = '\x1b[H';
export const CLEAR_LINE_END = '\x1b[K';
export const CLEAR_SCREEN_END = '\x1b[J';
export const CLEAR_SCREEN = '\x1b[2J';
export const HIDE_CURSOR = '\x1b[?25l';
export const SHOW_CURSOR = '\x1b[?25h';

/** Prints frames: in place on a terminal, else each after a `---` separator. Call `end()` when done. */
export class FramePrinter {
  private frames = 0;
  private readonly io: CliIo;
  private readonly tty: boolean;

  constructor(io: CliIo, tty: boolean) {
    this.io = io;
    this.tty = tty;
  }

  frame(lines: readonly string[]): void {
    if (this.tty) {
      if (this.frames === 0) this.io.out(HIDE_CURSOR + CLEAR_SCREEN);
      this.io.out(HOME + lines.map((l) => l + CLEAR_LINE_END).join('\n') + CLEAR_SCREEN_END);
    } else {
      if (this.frames > 0) this.io.out('---');
      for (const line of lines) this.io.out(line);
    }
    this.frames++;
  }

  end(): void {
    if (this.tty && this.frames > 0) this.io.out(SHOW_CURSOR);
  }
}

/** Waits `ms`, or less when the signal aborts (Ctrl-C). */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
