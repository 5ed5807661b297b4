// A secure broker starts only with its own certificate (broker-<id>): the controller and the other
// brokers would refuse any other as this broker (@tributary/auth's cluster-identity.ts).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '@tributary/auth/certs';
import { tempDir } from '@tributary/testkit';
import { startBroker } from './broker.ts';
import { brokerConfig } from './config.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('a secure broker and its certificate', () => {
  it("refuses to start with another broker's certificate, naming the one it needs", async () => {
    const { dir, cleanup } = tempDir('tributary-own-cert-');
    cleanups.push(cleanup);
    const ca = await createCa();
    const broker1 = await issueCertificate(ca, { commonName: 'broker-1', hosts: ['127.0.0.1'] });
    writeFileSync(join(dir, 'ca.pem'), ca.cert);
    writeFileSync(join(dir, 'broker-1.pem'), broker1.cert);
    writeFileSync(join(dir, 'broker-1-key.pem'), broker1.key);
    const config = brokerConfig({
      brokerId: 2,
      dataDir: join(dir, 'data'),
      security: { tlsCertFile: join(dir, 'broker-1.pem'), tlsKeyFile: join(dir, 'broker-1-key.pem'), tlsCaFile: join(dir, 'ca.pem'), superUsers: '' },
    });
    await expect(startBroker(config, { logger: pino({ level: 'silent' }) })).rejects.toThrow(
      /broker-1\.pem is the certificate of 'broker-1', not of 'broker-2'.*certs create --names broker-2/,
    );
  });
});
