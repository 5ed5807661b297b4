import { describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from './certs.ts';
import { certificateCommonName, requireOwnCertificate } from './server.ts';

describe('a process starts only with its own certificate', () => {
  it("reads the common name, and refuses another process's certificate with the command that makes the right one", async () => {
    const ca = await createCa();
    const broker1 = await issueCertificate(ca, { commonName: 'broker-1', hosts: ['127.0.0.1'] });
    expect(certificateCommonName(broker1.cert)).toBe('broker-1');
    expect(() => requireOwnCertificate(broker1.cert, 'broker-1', 'broker-1.pem')).not.toThrow();
    expect(() => requireOwnCertificate(broker1.cert, 'broker-2', 'broker-1.pem')).toThrow(
      /broker-1\.pem is the certificate of 'broker-1', not of 'broker-2'.*certs create --names broker-2/,
    );
    expect(() => requireOwnCertificate(broker1.cert, 'controller', 'broker-1.pem')).toThrow(/not of 'controller'/);
  });
});
