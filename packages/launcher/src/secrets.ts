// The secrets of a secure local cluster (issue 20), under `<data-dir>/secrets/` (mode 0700, files
// 0600): the cluster CA (`ca.pem`, `ca-key.pem`), one certificate and key per process
// (`controller.pem`, `broker-<id>.pem`, and `launcher.pem` for the launcher's own health checks,
// each with `-key.pem`), and the super user's password (`admin.password`, random). Made once;
// a later start reuses them, and a broker added later gets its certificate from the same CA.

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, issueCertificate } from '@tributary/auth/certs';

export const SECRETS_DIR = 'secrets';
export const SUPER_USER = 'admin';

export function secretsDir(dataDir: string): string {
  return join(dataDir, SECRETS_DIR);
}

/** Where one process's certificate and key are. */
export function certificateFiles(dir: string, name: string): { cert: string; key: string } {
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * Makes the CA (unless `dir` has one) and a certificate for each name that has none, valid for
 * `hosts`. Returns the names whose certificates it made.
 */
export async function ensureCertificates(dir: string, names: readonly string[], hosts: readonly string[] = ['127.0.0.1', 'localhost']): Promise<string[]> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const caFiles = certificateFiles(dir, 'ca');
  if (!existsSync(caFiles.cert) || !existsSync(caFiles.key)) {
    const ca = await createCa();
    writeSecret(caFiles.key, ca.key);
    writeSecret(caFiles.cert, ca.cert);
  }
  const ca = { cert: readFileSync(caFiles.cert, 'utf8'), key: readFileSync(caFiles.key, 'utf8') };
  const made: string[] = [];
  for (const name of names) {
    const files = certificateFiles(dir, name);
    if (existsSync(files.cert) && existsSync(files.key)) continue;
    const pair = await issueCertificate(ca, { commonName: name, hosts: [...new Set([...hosts, name])] });
    writeSecret(files.key, pair.key);
    writeSecret(files.cert, pair.cert);
    made.push(name);
  }
  return made;
}

/** The super user's password file, made (random, 24 bytes base64url) unless it exists. */
export function ensureSuperUserPassword(dir: string, user: string = SUPER_USER): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${user}.password`);
  if (!existsSync(path)) writeSecret(path, `${randomBytes(24).toString('base64url')}\n`);
  return path;
}

/** What a client of the local secure cluster uses by default: the CA and the super user. */
export interface LocalCredentials {
  caFile: string;
  user: string;
  password: string;
}

/** The local cluster's client credentials, when `<data-dir>/secrets/` holds them. */
export function localCredentials(dataDir: string): LocalCredentials | undefined {
  const dir = secretsDir(dataDir);
  const caFile = join(dir, 'ca.pem');
  const passwordFile = join(dir, `${SUPER_USER}.password`);
  if (!existsSync(caFile) || !existsSync(passwordFile)) return undefined;
  try {
    return { caFile, user: SUPER_USER, password: readFileSync(passwordFile, 'utf8').trim() };
  } catch {
    return undefined;
  }
}

/** The launcher's own mutual-TLS identity (health checks on the cluster-internal routes). */
export function launcherTls(dataDir: string): { ca: string; cert: string; key: string } | undefined {
  const dir = secretsDir(dataDir);
  const files = certificateFiles(dir, 'launcher');
  const caFile = join(dir, 'ca.pem');
  if (!existsSync(files.cert) || !existsSync(caFile)) return undefined;
  return { ca: readFileSync(caFile, 'utf8'), cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') };
}
