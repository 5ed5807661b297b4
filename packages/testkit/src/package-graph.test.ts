// Keeps the package graph honest (STYLE.md § TypeScript, DESIGN.md § Processes and packages):
// dependencies point one way, and every import of another package is declared.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const PACKAGES_DIR = new URL('../../', import.meta.url).pathname;

/** What each package may depend on (DESIGN.md). testkit is a devDependency only. */
const ALLOWED: Record<string, string[]> = {
  protocol: [],
  storage: ['protocol'],
  transport: ['protocol'],
  controller: ['auth', 'storage', 'transport', 'protocol'],
  // The consumer-group coordinator: sans-I/O, hosted by brokers (broker → coordinator → protocol).
  coordinator: ['protocol'],
  // Kafka's wire protocol (issue 19): schemas, the generic codec, frames; the broker's listener uses it.
  kafka: ['protocol'],
  // Security rules (ACL evaluator, SCRAM, sessions; certificate helpers under /certs): sans-I/O where it can be.
  auth: ['protocol', 'transport'],
  broker: ['auth', 'coordinator', 'kafka', 'storage', 'transport', 'protocol'],
  client: ['auth', 'transport', 'protocol'],
  launcher: ['auth', 'transport', 'protocol'],
  cli: ['auth', 'chaos', 'client', 'launcher', 'protocol'],
  chaos: ['client', 'launcher', 'protocol'],
  bench: ['chaos', 'client', 'kafka', 'launcher', 'protocol'],
  testkit: ['launcher'],
  // Test-only packages: they drive the system from outside, like a user.
  e2e: ['auth', 'chaos', 'cli', 'client', 'kafka', 'launcher', 'protocol', 'testkit', 'transport'],
  'e2e-containers': ['client', 'protocol', 'testkit', 'transport'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('package graph', () => {
  const packages = readdirSync(PACKAGES_DIR).filter((name) => Object.hasOwn(ALLOWED, name));

  it('knows every package', () => {
    const all = readdirSync(PACKAGES_DIR).filter((name) => statSync(join(PACKAGES_DIR, name)).isDirectory());
    for (const name of all) expect(Object.keys(ALLOWED), `package ${name} is not in the graph`).toContain(name);
  });

  it.each(packages)('%s depends only on the packages DESIGN.md allows', (name) => {
    const manifest = JSON.parse(readFileSync(join(PACKAGES_DIR, name, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    const ours = Object.keys(manifest.dependencies ?? {})
      .filter((d) => d.startsWith('@tributary/'))
      .map((d) => d.slice('@tributary/'.length));
    for (const dep of ours) expect(ALLOWED[name], `${name} -> ${dep}`).toContain(dep);
  });

  it.each(packages)('%s imports (outside tests) only what it declares, through public entry points', (name) => {
    const manifest = JSON.parse(readFileSync(join(PACKAGES_DIR, name, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    const declared = new Set(Object.keys(manifest.dependencies ?? {}));
    for (const file of sourceFiles(join(PACKAGES_DIR, name, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/from '(@tributary\/[a-z]+)(\/[^']*)?'/g)) {
        expect(declared.has(match[1]!), `${file} imports ${match[1]} without declaring it`).toBe(true);
        expect(match[2] === undefined || match[2] === '/server' || match[2] === '/client' || match[2] === '/certs', `${file} reaches into ${match[0]}`).toBe(
          true,
        );
      }
      expect(/from '\.\.\/\.\.\//.test(text), `${file} imports another package by relative path`).toBe(false);
    }
  });
});
