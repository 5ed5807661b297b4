// Test-only: a validator worker that starts, stays awake and takes batches but never answers,
// as one stuck in a bug would (batch-validator.test.ts).

import { parentPort, workerData } from 'node:worker_threads';
import { AWAKE, IDLE, STATE, type WorkerData } from '../batch-validator-thread.ts';

const c = new Int32Array((workerData as WorkerData).control);
Atomics.store(c, AWAKE, 1);
Atomics.store(c, STATE, IDLE);
parentPort?.postMessage('ready');
setInterval(() => {}, 60_000);
