import { describe, expect, it } from 'vitest';
import { inChildProcess } from './latency.ts';
import { Progress } from './progress.ts';

describe('latency phases in a child process', () => {
  it('reject with the reason when the phase cannot run', async () => {
    // A bootstrap that is no host:port: the child's producer refuses it at once.
    const progress = new Progress('test', 1);
    await expect(inChildProcess({ kind: 'ack', bootstrap: 'no-port-here', topic: 't', count: 1 }, progress)).rejects.toThrow(
      /the ack latency phase failed: .*host:port/,
    );
  });
});
