// A progress bar on stderr: redrawn in place on a TTY, a few plain lines otherwise (CI logs,
// pipes), so stdout keeps only the table and the JSON line.

export class Progress {
  private readonly label: string;
  private readonly total: number;
  private readonly tty: boolean;
  private readonly out: NodeJS.WriteStream;
  private readonly startedMs = performance.now();
  private lastDrawMs = 0;
  private lastQuarter = -1;
  private done = 0;

  constructor(label: string, total: number, out: NodeJS.WriteStream = process.stderr) {
    this.label = label;
    this.total = Math.max(1, total);
    this.out = out;
    this.tty = out.isTTY === true;
    if (!this.tty) out.write(`${label}: started\n`);
  }

  /** Sets the amount done (same unit as total); cheap to call often. */
  update(done: number, note = ''): void {
    this.done = Math.min(done, this.total);
    const now = performance.now();
    if (this.tty) {
      if (now - this.lastDrawMs < 100 && this.done < this.total) return;
      this.lastDrawMs = now;
      const width = 30;
      const filled = Math.round((this.done / this.total) * width);
      const pct = ((this.done / this.total) * 100).toFixed(0).padStart(3);
      this.out.write(`\r\x1b[2K${this.label.padEnd(22)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% ${note}`);
    } else {
      const quarter = Math.floor((this.done / this.total) * 4);
      if (quarter > this.lastQuarter && quarter < 4) {
        this.lastQuarter = quarter;
        if (quarter > 0) this.out.write(`${this.label}: ${quarter * 25}% ${note}\n`);
      }
    }
  }

  finish(summary: string): void {
    const secs = ((performance.now() - this.startedMs) / 1000).toFixed(1);
    if (this.tty) this.out.write(`\r\x1b[2K${this.label.padEnd(22)} done in ${secs} s: ${summary}\n`);
    else this.out.write(`${this.label}: done in ${secs} s: ${summary}\n`);
  }
}
