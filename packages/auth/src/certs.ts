// Certificates for a secure cluster (`tributary certs create`, `local up --secure`): a cluster CA
// and one certificate per process, ECDSA P-256 / SHA-256, made with @peculiar/x509 on Node's
// WebCrypto (no openssl binary needed, so it works in a slim container too). Pure functions of
// their inputs and fresh keys; writing the files is the caller's business.
//
// Every process certificate is good for both ends of mutual TLS (serverAuth and clientAuth): a
// broker serves with it and presents it when it calls the controller or another broker. Its
// common name is the process's principal (`User:broker-3`), and its subject alternative names
// list the addresses it is reached at (IPs and DNS names), which clients check.

// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

type Key = webcrypto.CryptoKey;

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface PemPair {
  /** The certificate, PEM. */
  cert: string;
  /** Its private key, PKCS#8 PEM. */
  key: string;
}

async function exportKey(key: Key): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKey(pem: string): Promise<Key> {
  const der = x509.PemConverter.decode(pem)[0]!;
  return webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, true, ['sign']);
}

function serial(): string {
  // Positive, 16 bytes.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f;
  return Buffer.from(bytes).toString('hex');
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  // An hour back, for clocks a little behind.
  return { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + days * DAY_MS) };
}

/** A self-signed CA certificate and key. */
export async function createCa(commonName = 'Tributary cluster CA', validDays = 3650): Promise<PemPair> {
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: new x509.Name([{ CN: [commonName] }]),
    keys: keys as never,
    signingAlgorithm: SIGNING_ALGORITHM,
    ...validity(validDays),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}

export interface CertificateRequest {
  /** The principal's name: `broker-3`, `controller`. */
  commonName: string;
  /** Addresses it is reached at: IPs and DNS names (at least one). */
  hosts: readonly string[];
  validDays?: number;
}

/** A certificate for one process, signed by the CA, for TLS server and client use. */
export async function issueCertificate(ca: PemPair, request: CertificateRequest): Promise<PemPair> {
  if (request.hosts.length === 0) throw new RangeError(`certificate for ${request.commonName} names no host`);
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importKey(ca.key);
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: new x509.Name([{ CN: [request.commonName] }]),
    issuer: caCert.subjectName,
    publicKey: keys.publicKey as never,
    signingKey: caKey as never,
    signingAlgorithm: SIGNING_ALGORITHM,
    ...validity(request.validDays ?? 825),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(request.hosts.map((h) => (isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }))),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}

/** The common name of a PEM certificate (to show what a file holds). */
export function commonNameOf(certPem: string): string | undefined {
  const cert = new x509.X509Certificate(certPem);
  return cert.subjectName.getField('CN')[0];
}
