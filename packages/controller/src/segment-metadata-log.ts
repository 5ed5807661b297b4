// Chooses the metadata log implementation for the process. The storage package's segment log
// is the target (DESIGN.md § Controller); until it exports `Log`, the single-file log (the same
// v2 batches, fsynced per append) keeps the controller durable.

import type { Logger } from 'pino';
import { FileMetadataLog } from './file-metadata-log.ts';
import type { MetadataLog } from './metadata-log.ts';

export function openMetadataLog(dir: string, logger: Logger): MetadataLog {
  const log = FileMetadataLog.open(dir);
  if (log.truncatedBytes > 0) {
    logger.warn({ dir, truncatedBytes: log.truncatedBytes }, 'metadata log had a torn tail; truncated');
  }
  return log;
}
