// A second thread that checks a leader's batch (validateBatch: CRC, every record's fields) while
// the event loop writes the same batch to the page cache, so the two overlap instead of adding
// up. Kafka gets the same overlap from its request-handler threads; a Node broker has one event
// loop, so the check moves to a worker (batch-validator-worker.ts).
//
// The handoff is synchronous because Log.appendAsLeader is: `begin` copies the batch into shared
// memory and wakes the worker, the caller writes, `end` waits for the verdict and throws the
// worker's error. A waiting side spins briefly before it sleeps on Atomics.wait: a check of a
// 16 KiB batch takes ~10 µs, less than a futex wake-up on a busy VM.
//
// Everything here degrades to "validate inline": before the worker has started, while it sleeps,
// for batches bigger than the shared buffer, and for good if the worker dies or stops answering.

import { Worker } from 'node:worker_threads';
import { TributaryError, isErrorCode, validateBatch } from '@tributary/protocol';

declare global {
  interface Atomics {
    /** ES2025 (Node 24): a CPU hint inside a spin loop, so the spinning core yields to its sibling. */
    pause(iterations?: number): void;
  }
}

/** Slots of the control array (Int32Array over a SharedArrayBuffer). */
export const STATE = 0;
export const LENGTH = 1;
export const KEYS_REQUIRED = 2;
export const RESULT = 3;
export const MESSAGE_LENGTH = 4;
/** 1 while the worker spins for work, 0 while it sleeps (or has not started). */
export const AWAKE = 5;
/** Times the worker woke from sleep (a test's evidence that `begin` woke it). */
export const WAKEUPS = 6;
export const CONTROL_SLOTS = 8;

/** Values of STATE (a new SharedArrayBuffer holds 0: STARTING until the worker runs). */
export const STARTING = 0;
export const IDLE = 1;
export const JOB = 2;
export const DONE = 3;

/** Values of RESULT. */
export const VALID = 0;
export const INVALID = 1;
/** The check threw something other than a TributaryError: a bug, reported as such. */
export const FAILED = 2;

/** Biggest batch checked off-thread (bytes of shared memory); bigger ones are checked inline. */
export const MAX_BATCH_BYTES = 1024 * 1024;
export const MESSAGE_BYTES = 4096;

/** How long each side spins before it sleeps (µs). */
export const WORKER_SPIN_US = 20;
const CALLER_SPIN_US = 50;
/** A verdict that takes this long means the worker is gone; the caller checks inline from then on. */
const VERDICT_TIMEOUT_MS = 10_000;

export interface WorkerData {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
  message: SharedArrayBuffer;
}

/** What a Log needs from the validator: see the header comment. */
export interface BatchValidator {
  /** Starts checking a copy of `batch`; false when it cannot, and the caller validates inline. */
  begin(batch: Buffer, keysRequired: boolean): boolean;
  /** Waits for the verdict on the batch last begun; throws its error (CORRUPT_MESSAGE, INVALID_RECORD). */
  end(): void;
}

export class BatchValidatorThread implements BatchValidator {
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
  private readonly data = new SharedArrayBuffer(MAX_BATCH_BYTES);
  private readonly dataView = Buffer.from(this.data);
  private readonly message = new SharedArrayBuffer(MESSAGE_BYTES);
  private worker: Worker | undefined;
  private broken = false;
  private pending = false;
  /** Batches checked on the thread so far (the broker's tributary_batch_validator_handoffs_total). */
  handoffs = 0;
  private readyPromise: Promise<boolean> | undefined;

  /**
   * Called once if the worker cannot start or stops: appends go on with inline checks, but a
   * broker logs it (a bundle without its worker file, a thread that died).
   */
  onFailure: ((err: Error) => void) | undefined;
  private readonly workerUrl: URL;
  private readonly verdictTimeoutMs: number;

  /** Both options are for tests: the worker module (default: the one beside this file) and how long a verdict may take. */
  constructor(options: { workerUrl?: URL; verdictTimeoutMs?: number } = {}) {
    this.workerUrl = options.workerUrl ?? defaultWorkerUrl();
    this.verdictTimeoutMs = options.verdictTimeoutMs ?? VERDICT_TIMEOUT_MS;
  }

  /** Starts the worker (once); resolves true when it takes work, false when it cannot start. */
  start(): Promise<boolean> {
    if (this.readyPromise !== undefined) return this.readyPromise;
    this.readyPromise = new Promise((resolve) => {
      const fail = (err: Error): void => {
        if (!this.broken) this.onFailure?.(err);
        this.broken = true;
        resolve(false);
      };
      try {
        const workerData: WorkerData = { control: this.control.buffer as SharedArrayBuffer, data: this.data, message: this.message };
        const worker = new Worker(this.workerUrl, { workerData, name: 'tributary-batch-validator' });
        this.worker = worker;
        worker.unref();
        worker.once('message', () => resolve(true));
        worker.once('error', fail);
        worker.once('exit', (code) => fail(new Error(`the batch validator thread exited with code ${code}`)));
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
    return this.readyPromise;
  }

  begin(batch: Buffer, keysRequired: boolean): boolean {
    if (this.readyPromise === undefined) void this.start();
    // IDLE also means started: the worker leaves STARTING once it takes work.
    if (this.broken || this.pending || batch.length > MAX_BATCH_BYTES || Atomics.load(this.control, STATE) !== IDLE) return false;
    if (Atomics.load(this.control, AWAKE) === 0) {
      // Waking a sleeping worker takes ~20 µs, as long as the check it would take over: this
      // batch is checked inline, and the worker, woken now, spins for the batches that follow.
      // A lone append never pays for a handoff, and a busy box never has its cores taken by one.
      Atomics.notify(this.control, STATE);
      return false;
    }
    // fill, not set or copy: V8 copies into shared memory with relaxed atomic stores (16 KiB:
    // 1.2–2.2 µs on one thread here), Buffer#fill with a Buffer value is one memcpy (0.3 µs).
    // In an append the copy still costs a few µs: the worker's core holds those cache lines.
    this.dataView.fill(batch, 0, batch.length);
    this.control[LENGTH] = batch.length;
    this.control[KEYS_REQUIRED] = keysRequired ? 1 : 0;
    Atomics.store(this.control, STATE, JOB);
    Atomics.notify(this.control, STATE);
    this.pending = true;
    this.handoffs++;
    return true;
  }

  end(): void {
    if (!this.pending) throw new Error('BatchValidatorThread.end without begin');
    this.pending = false;
    const c = this.control;
    if (Atomics.load(c, STATE) === JOB) {
      const spinUntil = performance.now() + CALLER_SPIN_US / 1000;
      let spins = 0;
      while (Atomics.load(c, STATE) === JOB && ((++spins & 0xff) !== 0 || performance.now() < spinUntil)) {
        Atomics.pause(); // the verdict is usually microseconds away
      }
      const deadline = performance.now() + this.verdictTimeoutMs;
      while (Atomics.load(c, STATE) === JOB) {
        const left = deadline - performance.now();
        if (left <= 0) {
          // The worker is gone (it cannot be asked why from here: its events need the event
          // loop). The copy is still here: check it inline, and every batch from now on.
          if (!this.broken) this.onFailure?.(new Error(`the batch validator thread gave no verdict in ${this.verdictTimeoutMs} ms`));
          this.broken = true;
          void this.worker?.terminate();
          validateBatch(this.dataView.subarray(0, c[LENGTH]), { keysRequired: c[KEYS_REQUIRED] === 1 });
          return;
        }
        Atomics.wait(c, STATE, JOB, Math.min(left, 1000));
      }
    }
    const result = c[RESULT];
    if (result === VALID) {
      Atomics.store(c, STATE, IDLE);
      return;
    }
    const text = Buffer.from(this.message, 0, c[MESSAGE_LENGTH]).toString('utf8');
    Atomics.store(c, STATE, IDLE);
    const newline = text.indexOf('\n');
    const code = text.slice(0, newline);
    const message = text.slice(newline + 1);
    if (result === INVALID && isErrorCode(code)) throw new TributaryError(code, message);
    throw new Error(`batch validator thread: ${message}`);
  }
}

/** The worker's module: the TypeScript source beside this file, or the bundle beside dist/*.mjs (scripts/build.ts). */
function defaultWorkerUrl(): URL {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './batch-validator-worker.ts' : './batch-validator-worker.mjs', here);
}

let shared: BatchValidatorThread | undefined;

/** The process's one validator thread, started on first use: appends are synchronous, so one is enough. */
export function sharedBatchValidator(): BatchValidatorThread {
  shared ??= new BatchValidatorThread();
  return shared;
}

/** Batches the process's validator thread has checked: 0 if it was never asked for (nothing is created). */
export function sharedBatchValidatorHandoffs(): number {
  return shared?.handoffs ?? 0;
}
