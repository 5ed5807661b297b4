// SCRAM (RFC 5802), with SHA-256 and SHA-512 (RFC 7677): the credential format Kafka stores
// (salt, StoredKey, ServerKey, iterations: never the password) and both sides of the exchange as
// sans-I/O state machines. The nonces and the salt are arguments, so the RFCs' test vectors run
// as written; callers pass random ones.
//
//   client-first  n,,n=<user>,r=<client nonce>
//   server-first  r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>
//   client-final  c=biws,r=<nonce>,p=<base64 ClientProof>
//   server-final  v=<base64 ServerSignature>          (or e=<error>)
//
// SaltedPassword = PBKDF2(password, salt, i)      ClientKey = HMAC(SaltedPassword, "Client Key")
// StoredKey = H(ClientKey)                         ServerKey = HMAC(SaltedPassword, "Server Key")
// AuthMessage = client-first-bare + "," + server-first + "," + client-final-without-proof
// ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage)
// ServerSignature = HMAC(ServerKey, AuthMessage)
//
// No channel binding (gs2 header `n,,`) and no SASLprep of the password, as Kafka's ScramSaslServer.

import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { TributaryError } from '@tributary/protocol';

export const SCRAM_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type ScramMechanism = (typeof SCRAM_MECHANISMS)[number];

/** Kafka's bounds on a credential's iterations (ScramMechanism.minIterations, and its 16384 cap). */
export const SCRAM_ITERATIONS_MIN = 4096;
export const SCRAM_ITERATIONS_MAX = 16384;
/** Kafka's default for new credentials. */
export const SCRAM_ITERATIONS_DEFAULT = 4096;

/** The hash of a mechanism; 'sha1' only so that RFC 5802's own test vector can run. */
export type ScramHash = 'sha1' | 'sha256' | 'sha512';

export function isScramMechanism(value: unknown): value is ScramMechanism {
  return typeof value === 'string' && (SCRAM_MECHANISMS as readonly string[]).includes(value);
}

export function scramHash(mechanism: ScramMechanism): ScramHash {
  return mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
}

function hashLength(hash: ScramHash): number {
  return hash === 'sha1' ? 20 : hash === 'sha256' ? 32 : 64;
}

/** Kafka's ScramCredential: what is stored per user and mechanism. */
export interface ScramCredential {
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
  iterations: number;
}

export function saltedPassword(hash: ScramHash, password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, hashLength(hash), hash);
}

function hmac(hash: ScramHash, key: Buffer, text: string): Buffer {
  return createHmac(hash, key).update(text, 'utf8').digest();
}

function h(hash: ScramHash, data: Buffer): Buffer {
  return createHash(hash).update(data).digest();
}

/** The stored form from a salted password (what AlterUserScramCredentials sends, as Kafka's). */
export function credentialFromSaltedPassword(hash: ScramHash, salted: Buffer, salt: Buffer, iterations: number): ScramCredential {
  const clientKey = hmac(hash, salted, 'Client Key');
  return { salt: Buffer.from(salt), storedKey: h(hash, clientKey), serverKey: hmac(hash, salted, 'Server Key'), iterations };
}

/** A credential for a password; the salt is the caller's (random, 32 bytes or so). */
export function deriveCredential(hash: ScramHash, password: string, salt: Buffer, iterations = SCRAM_ITERATIONS_DEFAULT): ScramCredential {
  return credentialFromSaltedPassword(hash, saltedPassword(hash, password, salt, iterations), salt, iterations);
}

/** Whether `password` is the one the credential was made from (SASL/PLAIN against a SCRAM store). */
export function passwordMatches(hash: ScramHash, credential: ScramCredential, password: string): boolean {
  const candidate = deriveCredential(hash, password, credential.salt, credential.iterations);
  return candidate.storedKey.length === credential.storedKey.length && timingSafeEqual(candidate.storedKey, credential.storedKey);
}

// ---------------------------------------------------------------------------------------------
// Messages

function fail(message: string): TributaryError {
  return new TributaryError('SASL_AUTHENTICATION_FAILED', message);
}

/** RFC 5802 § 5.1: `=` and `,` in a user name travel as `=3D` and `=2C`. */
export function escapeUsername(name: string): string {
  return name.replaceAll('=', '=3D').replaceAll(',', '=2C');
}

export function unescapeUsername(name: string): string {
  if (/=(?!3D|2C)/.test(name)) throw fail('malformed user name in SCRAM message');
  return name.replaceAll('=2C', ',').replaceAll('=3D', '=');
}

/** `a=1,b=2` into a map; values may contain `=`. Refuses a repeated or malformed attribute. */
export function parseAttributes(message: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const part of message.split(',')) {
    const match = /^([a-zA-Z])=(.*)$/s.exec(part);
    if (match === null) throw fail(`malformed SCRAM attribute '${part.slice(0, 40)}'`);
    if (attributes.has(match[1]!)) throw fail(`SCRAM attribute '${match[1]}' given twice`);
    attributes.set(match[1]!, match[2]!);
  }
  return attributes;
}

/** Printable ASCII but `,` (RFC 5802's `printable`). */
function validNonce(nonce: string): boolean {
  return /^[\x21-\x2b\x2d-\x7e]+$/.test(nonce);
}

const GS2_HEADER = 'n,,';
const CHANNEL_BINDING = Buffer.from(GS2_HEADER).toString('base64'); // biws

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Client

export class ScramClient {
  private readonly hash: ScramHash;
  private readonly user: string;
  private readonly clientNonce: string;
  private readonly salted: (salt: Buffer, iterations: number) => Buffer;
  private clientFirstBare = '';
  private expectedServerSignature: Buffer | undefined;

  /**
   * `password` may be a function of (salt, iterations) giving the salted password, so a client
   * talking to many brokers derives it once (PBKDF2 is the expensive part).
   */
  constructor(hash: ScramHash, user: string, password: string | ((salt: Buffer, iterations: number) => Buffer), clientNonce: string) {
    if (!validNonce(clientNonce)) throw new RangeError('SCRAM nonce must be printable ASCII without commas');
    this.hash = hash;
    this.user = user;
    this.clientNonce = clientNonce;
    this.salted = typeof password === 'string' ? (salt, i) => saltedPassword(hash, password, salt, i) : password;
  }

  firstMessage(): string {
    this.clientFirstBare = `n=${escapeUsername(this.user)},r=${this.clientNonce}`;
    return GS2_HEADER + this.clientFirstBare;
  }

  finalMessage(serverFirst: string): string {
    const attributes = parseAttributes(serverFirst);
    const nonce = attributes.get('r');
    const salt = attributes.get('s');
    const iterations = Number(attributes.get('i'));
    if (attributes.has('e')) throw fail(`server refused: ${attributes.get('e')}`);
    if (nonce === undefined || !nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length || !validNonce(nonce))
      throw fail("the server's nonce does not extend ours");
    if (salt === undefined || salt.length === 0) throw fail('the server sent no salt');
    if (!Number.isSafeInteger(iterations) || iterations < SCRAM_ITERATIONS_MIN || iterations > SCRAM_ITERATIONS_MAX * 4)
      throw fail(`the server asks for ${attributes.get('i')} iterations`);
    const salted = this.salted(Buffer.from(salt, 'base64'), iterations);
    const clientKey = hmac(this.hash, salted, 'Client Key');
    const storedKey = h(this.hash, clientKey);
    const withoutProof = `c=${CHANNEL_BINDING},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const proof = xor(clientKey, hmac(this.hash, storedKey, authMessage));
    this.expectedServerSignature = hmac(this.hash, hmac(this.hash, salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server's signature: a server without the credential cannot make it. */
  verifyServerFinal(serverFinal: string): void {
    const attributes = parseAttributes(serverFinal);
    if (attributes.has('e')) throw fail(`authentication failed: ${attributes.get('e')}`);
    const signature = Buffer.from(attributes.get('v') ?? '', 'base64');
    const expected = this.expectedServerSignature;
    if (expected === undefined || signature.length !== expected.length || !timingSafeEqual(signature, expected))
      throw fail("the server's signature is wrong: it does not hold this user's credential");
  }
}

// ---------------------------------------------------------------------------------------------
// Server

export class ScramServer {
  private readonly hash: ScramHash;
  private readonly lookup: (user: string) => ScramCredential | undefined;
  private readonly serverNonce: string;
  private readonly fake: (user: string) => ScramCredential;
  private state: 'first' | 'final' | 'done' = 'first';
  private user = '';
  private credential: ScramCredential | undefined;
  private known = false;
  private nonce = '';
  private clientNonce = '';
  private clientFirstBare = '';
  private serverFirst = '';

  /**
   * `fake` gives an unknown user a credential that looks real (a salt derived from the name), so
   * the exchange goes on to fail at the proof and does not say which users exist.
   */
  constructor(hash: ScramHash, lookup: (user: string) => ScramCredential | undefined, serverNonce: string, fake: (user: string) => ScramCredential) {
    if (!validNonce(serverNonce)) throw new RangeError('SCRAM nonce must be printable ASCII without commas');
    this.hash = hash;
    this.lookup = lookup;
    this.serverNonce = serverNonce;
    this.fake = fake;
  }

  /** client-first → server-first. */
  handleFirst(clientFirst: string): string {
    if (this.state !== 'first') throw fail('SCRAM exchange out of order');
    if (!clientFirst.startsWith(GS2_HEADER)) {
      throw fail(clientFirst.startsWith('p=') || clientFirst.startsWith('y,') ? 'channel binding is not supported' : 'malformed client-first message');
    }
    this.clientFirstBare = clientFirst.slice(GS2_HEADER.length);
    const attributes = parseAttributes(this.clientFirstBare);
    if (attributes.has('m')) throw fail('SCRAM extensions (m=) are not supported');
    const name = attributes.get('n');
    const clientNonce = attributes.get('r');
    if (name === undefined || name.length === 0) throw fail('client-first message names no user');
    if (clientNonce === undefined || !validNonce(clientNonce)) throw fail('client-first message has no valid nonce');
    this.user = unescapeUsername(name);
    const credential = this.lookup(this.user);
    this.known = credential !== undefined;
    this.credential = credential ?? this.fake(this.user);
    this.clientNonce = clientNonce;
    this.nonce = clientNonce + this.serverNonce;
    this.serverFirst = `r=${this.nonce},s=${this.credential.salt.toString('base64')},i=${this.credential.iterations}`;
    this.state = 'final';
    return this.serverFirst;
  }

  /** client-final → server-final and the authenticated user; SASL_AUTHENTICATION_FAILED otherwise. */
  handleFinal(clientFinal: string): { serverFinal: string; user: string } {
    if (this.state !== 'final') throw fail('SCRAM exchange out of order');
    this.state = 'done';
    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0) throw fail('client-final message has no proof');
    const withoutProof = clientFinal.slice(0, proofAt);
    const attributes = parseAttributes(withoutProof);
    if (attributes.get('c') !== CHANNEL_BINDING) throw fail('channel binding data does not match the gs2 header');
    // librdkafka (2.0 at least) sends its client nonce again before the whole nonce; Kafka's
    // server accepts any final nonce ending with the exchange's, so that form is accepted too.
    const nonce = attributes.get('r');
    if (nonce !== this.nonce && nonce !== this.clientNonce + this.nonce) throw fail('nonce does not match the exchange');
    const credential = this.credential!;
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), 'base64');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = hmac(this.hash, credential.storedKey, authMessage);
    if (proof.length !== clientSignature.length) throw fail(`authentication failed for user '${this.user}'`);
    const clientKey = xor(proof, clientSignature);
    const candidate = h(this.hash, clientKey);
    if (!this.known || !timingSafeEqual(candidate, credential.storedKey)) throw fail(`authentication failed for user '${this.user}'`);
    const serverSignature = hmac(this.hash, credential.serverKey, authMessage);
    return { serverFinal: `v=${serverSignature.toString('base64')}`, user: this.user };
  }
}
