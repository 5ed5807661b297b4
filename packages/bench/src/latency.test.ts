import { describe, expect, it } from 'vitest';
import { inChildProcess } from './latency.ts';
import { Progress } from './progress.ts';

describe('latency phases in a child process', () => {
  it('reject with the reason when the phase cannot run', async () => {
    // Nothing listens on port 1: the child's producer cannot even fetch metadata.
    const progress = new Progress('test', 1);
    await expect(inChildProcess({ kind: 'ack', bootstrap: '127.0.0.1:1', topic: 't', count: 1 }, progress)).rejects.toThrow(/the ack latency phase failed: /);
  });
});
