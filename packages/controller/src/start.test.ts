import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '@tributary/auth/certs';
import { pino } from 'pino';
import type { ClusterMetadata } from '@tributary/protocol';
import { RpcClient } from '@tributary/transport';
import { tempDir } from '@tributary/testkit';
import { parseControllerConfig } from './config.ts';
import { startController, type RunningController } from './start.ts';

const running: RunningController[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.close();
  for (const c of cleanups.splice(0)) c();
});

describe('startController', () => {
  it("refuses to start with another process's certificate (a secure controller's is 'controller')", async () => {
    const { dir, cleanup } = tempDir('tributary-start-');
    cleanups.push(cleanup);
    const ca = await createCa();
    const broker0 = await issueCertificate(ca, { commonName: 'broker-0', hosts: ['127.0.0.1'] });
    writeFileSync(join(dir, 'ca.pem'), ca.cert);
    writeFileSync(join(dir, 'broker-0.pem'), broker0.cert);
    writeFileSync(join(dir, 'broker-0-key.pem'), broker0.key);
    const config = parseControllerConfig(
      [
        '--listen',
        '127.0.0.1:0',
        '--data-dir',
        join(dir, 'data'),
        '--tls-cert',
        join(dir, 'broker-0.pem'),
        '--tls-key',
        join(dir, 'broker-0-key.pem'),
        '--tls-ca',
        join(dir, 'ca.pem'),
      ],
      {},
    );
    await expect(startController(config, { logger: pino({ level: 'silent' }) })).rejects.toThrow(/is the certificate of 'broker-0', not of 'controller'/);
  });

  it('listens on a free port, serves over HTTP, fences silent brokers on its timer, and closes', async () => {
    const { dir, cleanup } = tempDir('tributary-start-');
    cleanups.push(cleanup);
    const config = parseControllerConfig(['--listen', '127.0.0.1:0', '--data-dir', dir, '--session-timeout-ms', '300', '--cluster-id', 'started'], {});
    const r = await startController(config, { logger: pino({ level: 'silent' }) });
    running.push(r);
    expect(r.address.port).toBeGreaterThan(0);
    const client = new RpcClient(r.address, { timeoutMs: 5000 });
    try {
      await client.call('/broker/register', {
        brokerId: 1,
        rack: 'r',
        incarnationId: 'x',
        internal: { host: 'h', port: 1 },
        external: { host: 'h', port: 2 },
        logDirId: 'd1',
        clusterId: '',
      });
      const metrics = await client.getText('/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.text).toContain('tributary_active_controller_count 1');
      // No heartbeats: the session timer fences the broker, and a waiting poll hears of it.
      const since = r.controller.version;
      const md = await client.call<ClusterMetadata>('/metadata/poll', { sinceVersion: since, maxWaitMs: 5000 });
      expect(md.clusterId).toBe('started');
      expect(md.brokers[0]!.alive).toBe(false);
    } finally {
      await client.close();
    }
    await r.close();
    await r.close();
  });

  it('serves brokers on the internal listener only when it has one; clients, admin and health on both', async () => {
    const { dir, cleanup } = tempDir('tributary-start-');
    cleanups.push(cleanup);
    const config = parseControllerConfig(['--listen', '127.0.0.1:0', '--internal-listen', '127.0.0.1:0', '--data-dir', dir, '--cluster-id', 'split'], {});
    const r = await startController(config, { logger: pino({ level: 'silent' }) });
    running.push(r);
    expect(r.internalAddress!.port).not.toBe(r.address.port);
    const external = new RpcClient(r.address, { timeoutMs: 5000 });
    const internal = new RpcClient(r.internalAddress!, { timeoutMs: 5000 });
    try {
      const registration = {
        brokerId: 1,
        rack: 'r',
        incarnationId: 'x',
        internal: { host: 'h', port: 1 },
        external: { host: 'h', port: 2 },
        logDirId: 'd1',
        clusterId: '',
      };
      for (const route of ['/broker/register', '/broker/heartbeat', '/broker/controlled-shutdown', '/metadata/poll', '/partition/alter']) {
        await expect(external.call(route, registration), route).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
      }
      expect(await internal.call('/broker/register', registration)).toEqual({ brokerEpoch: 0 });
      expect((await internal.call<ClusterMetadata>('/metadata/poll', { sinceVersion: -1, maxWaitMs: 0 })).clusterId).toBe('split');
      for (const client of [external, internal]) {
        expect((await client.getText('/health')).status).toBe(200);
        expect(await client.call('/admin/create-topic', { name: 'x', partitions: 1, replicationFactor: 1 })).toMatchObject({ topic: { name: 'x' } });
        await client.call('/admin/delete-topic', { name: 'x' });
      }
    } finally {
      await external.close();
      await internal.close();
    }
  });
});
