// Producer ids for idempotent producers (DESIGN.md § Idempotent producers). Ids come from blocks
// reserved by a logged ProducerIdBlock record (Kafka's KIP-730 scheme); handing out one id inside
// a block is not logged. After a restart the block in use is treated as spent, so an id is never
// handed out twice, at the cost of skipping the block's unused rest.

import type { ClusterState } from './cluster-state.ts';
import type { ProducerIdBlockRecord } from './records.ts';

export const PRODUCER_ID_BLOCK_SIZE = 1000;

/**
 * The next producer id and the record reserving a new block when the current one is spent.
 * The caller appends the records, applies them, then advances `state.nextProducerId` past `producerId`.
 */
export function initProducerId(state: ClusterState): { records: ProducerIdBlockRecord[]; producerId: number } {
  if (state.nextProducerId < state.producerIdBlockEnd) {
    return { records: [], producerId: state.nextProducerId };
  }
  const firstProducerId = state.producerIdBlockEnd;
  return {
    records: [{ type: 'ProducerIdBlock', firstProducerId, size: PRODUCER_ID_BLOCK_SIZE }],
    producerId: firstProducerId,
  };
}
