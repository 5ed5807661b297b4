import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('Producer against an unreachable cluster', () => {
  it('keeps the process alive until send() rejects with the reason', () => {
    // In a process of its own: what matters is whether Node stays alive for the answer.
    const script = `
      import { Producer } from ${JSON.stringify(new URL('./index.ts', import.meta.url).href)};
      const producer = new Producer({ bootstrap: '127.0.0.1:1', maxBlockMs: 400 });
      try {
        await producer.send({ topic: 't', value: Buffer.from('x') });
        console.log('sent');
      } catch (err) {
        console.log('rejected ' + err.code);
      }
      await producer.close();
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stdout.trim()).toMatch(/^rejected [A-Z_]+$/);
    expect(run.status).toBe(0);
  });
});
