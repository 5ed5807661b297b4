// The client's retry policy as pure functions, so the rules are testable without sockets.

import { isRetriable, type ErrorCode } from '@tributary/protocol';

export const RETRY_BACKOFF_INITIAL_MS = 100;
export const RETRY_BACKOFF_MAX_MS = 1000;

/** Backoff before retry number `attempt` (1-based): 100 ms doubling up to 1 s. */
export function retryBackoffMs(attempt: number, initialMs = RETRY_BACKOFF_INITIAL_MS, maxMs = RETRY_BACKOFF_MAX_MS): number {
  if (attempt < 1) return 0;
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
}

export type ProduceErrorAction =
  /** Send the same batch again (same bytes, same sequence) after a backoff. */
  | 'retry'
  /** Give up: reject the batch's records with this error. */
  | 'fail'
  /** The leader already holds the batch (idempotent producer): a success if the offset is known. */
  | 'duplicate';

/**
 * What a producer does with a per-partition error. Retriable errors are retried until the
 * batch's delivery deadline (Kafka's delivery.timeout.ms, KIP-91); everything else fails at once.
 * OUT_OF_ORDER_SEQUENCE_NUMBER is fatal for the batch (the leader saw a gap).
 */
export function produceErrorAction(code: ErrorCode, elapsedMs: number, deliveryTimeoutMs: number, nextBackoffMs = 0): ProduceErrorAction {
  if (code === 'DUPLICATE_SEQUENCE_NUMBER') return 'duplicate';
  if (!isRetriable(code)) return 'fail';
  return elapsedMs + nextBackoffMs < deliveryTimeoutMs ? 'retry' : 'fail';
}
