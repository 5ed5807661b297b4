// How long the controller itself was unable to hear brokers. A broker's session may only expire
// on heartbeats the controller could have received: while its own event loop is blocked (a long
// synchronous request, a slow fsync of the metadata log, a GC pause, SIGSTOP), heartbeats wait
// unread in their sockets, and counting that time against every broker would fence healthy
// brokers for the controller's own stall and move their leaderships (issue 16 §4: one client's
// requests stalled a process, and the failover followed).
//
// The measure: the session check runs on a timer every `checkIntervalMs`; a check that runs late
// shows the loop was blocked for the lateness. The lateness summed over time is `stalledMs`, a
// clock that only moves while the controller was deaf; a heartbeat records its value, and a
// session's silence is the time since its heartbeat minus the stall since then
// (broker-registry.ts, `expiredSessions`). Node runs due timers before it reads sockets, so after
// a stall the late check comes first and credits the stall before the queued heartbeats are
// read.
//
// Pure: the caller passes the time; nothing here reads a clock or sets a timer.

export class SessionClock {
  readonly checkIntervalMs: number;
  private lastCheckMs: number | undefined;
  private stalled = 0;
  private lastStall = 0;

  constructor(checkIntervalMs: number) {
    if (!(checkIntervalMs > 0)) throw new RangeError(`checkIntervalMs must be positive, got ${checkIntervalMs}`);
    this.checkIntervalMs = checkIntervalMs;
  }

  /** Total time the controller's session checks ran late, i.e. it could not hear brokers. */
  get stalledMs(): number {
    return this.stalled;
  }

  /** The lateness found by the most recent check (0 when it ran on time). */
  get lastStallMs(): number {
    return this.lastStall;
  }

  /**
   * Called at each session check with the time: a check later than `checkIntervalMs` after the
   * previous one adds its lateness to the stalled total. The clock going backwards counts as no
   * stall. Returns the stalled total.
   */
  check(nowMs: number): number {
    this.lastStall = this.lastCheckMs === undefined ? 0 : Math.max(0, nowMs - this.lastCheckMs - this.checkIntervalMs);
    this.stalled += this.lastStall;
    this.lastCheckMs = nowMs;
    return this.stalled;
  }
}
