// The worker side of batch-validator-thread.ts: waits for a batch in shared memory, runs
// validateBatch on it, and leaves the verdict (and an error's code and message) beside it.

import { parentPort, workerData } from 'node:worker_threads';
import { TributaryError, validateBatch } from '@tributary/protocol';
import {
  AWAKE,
  DONE,
  FAILED,
  IDLE,
  INVALID,
  JOB,
  KEYS_REQUIRED,
  LENGTH,
  MESSAGE_BYTES,
  MESSAGE_LENGTH,
  RESULT,
  STATE,
  VALID,
  WAKEUPS,
  WORKER_SPIN_US,
  type WorkerData,
} from './batch-validator-thread.ts';

const { control, data, message } = workerData as WorkerData;
const c = new Int32Array(control);
const bytes = Buffer.from(data);
const messageBytes = Buffer.from(message);

function report(result: number, text: string): void {
  const written = messageBytes.write(text, 0, MESSAGE_BYTES, 'utf8');
  c[MESSAGE_LENGTH] = written;
  c[RESULT] = result;
}

function waitForJob(): void {
  // Spin a little first: under load the next batch is a few microseconds away.
  let spinUntil = performance.now() + WORKER_SPIN_US / 1000;
  let spins = 0;
  for (let state = Atomics.load(c, STATE); state !== JOB; state = Atomics.load(c, STATE)) {
    Atomics.pause();
    if ((++spins & 0xff) === 0 && performance.now() >= spinUntil) {
      // Sleeps on the value it saw (DONE until the caller takes the verdict, then IDLE); `begin`
      // notifies, with a batch or (seeing AWAKE 0) to have it spin for the next one.
      Atomics.store(c, AWAKE, 0);
      Atomics.wait(c, STATE, state);
      Atomics.store(c, AWAKE, 1);
      Atomics.add(c, WAKEUPS, 1);
      spinUntil = performance.now() + WORKER_SPIN_US / 1000;
    }
  }
}

Atomics.store(c, AWAKE, 1);
Atomics.store(c, STATE, IDLE);
parentPort?.postMessage('ready');
for (;;) {
  waitForJob();
  try {
    validateBatch(bytes.subarray(0, c[LENGTH]), { keysRequired: c[KEYS_REQUIRED] === 1 });
    report(VALID, '');
  } catch (err) {
    if (err instanceof TributaryError) report(INVALID, `${err.code}\n${err.message}`);
    else report(FAILED, `\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
  Atomics.store(c, STATE, DONE);
  Atomics.notify(c, STATE);
}
