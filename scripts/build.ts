// `pnpm build`: bundles the three processes into dist/ so that a container (docker/Dockerfile)
// needs nothing but Node and these files — no node_modules, no TypeScript sources, no pnpm.
//
//   dist/tributary.mjs    packages/cli/src/main.ts         the `tributary` command
//   dist/broker.mjs       packages/broker/src/main.ts      a broker process
//   dist/controller.mjs   packages/controller/src/main.ts  the controller process
//   dist/batch-validator-worker.mjs  the storage's validator thread (packages/storage/src/
//                         batch-validator-worker.ts), started by any bundle that appends;
//                         always built with the others
//   dist/*.node           native addons the bundles load (copied beside them)
//   dist/ui/              the controller's web console files (served at /ui)
//
// Native addons. @node-rs/crc32 (CRC-32C, DESIGN.md § Record batches) is a napi-rs package: its
// index.js probes the platform and require()s one optional package per platform
// (`@node-rs/crc32-linux-x64-gnu`, …). esbuild follows the require of the package installed
// here, and the `.node` loader 'copy' puts its binary beside the bundle and rewrites the
// require to a relative path. The other platforms' requires stay in the bundle unresolved
// (marked external): they sit inside try/catch and are only reached on those platforms. So the
// bundle runs on the platform that built it — linux-x64-gnu for the image — and the build
// fails loudly if the addon for this platform is missing.
//
// msgpackr's optional native extractor (msgpackr-extract) is deliberately left out: msgpackr
// falls back to its pure-JS decoder when the require fails, which is what it does on platforms
// without a prebuilt binary anyway. Bodies are small enough that the JS path is not the limit.
//
// The output is ESM (our sources are ESM with top-level await); a banner gives the bundled
// CommonJS dependencies (fastify, pino, undici's deps) the `require`, `__filename` and
// `__dirname` they expect.

import { build, type Plugin } from 'esbuild';
import { chmodSync, cpSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT_DIR = join(ROOT, 'dist');

const ENTRIES = {
  tributary: 'packages/cli/src/main.ts',
  broker: 'packages/broker/src/main.ts',
  controller: 'packages/controller/src/main.ts',
} as const;

/** Not a process: the worker a Log starts beside whichever bundle appends (batch-validator-thread.ts). */
const WORKERS = { 'batch-validator-worker': 'packages/storage/src/batch-validator-worker.ts' } as const;

const BANNER = [
  "import { createRequire as __tributaryCreateRequire } from 'node:module';",
  "import { fileURLToPath as __tributaryFileURLToPath } from 'node:url';",
  "import { dirname as __tributaryDirname } from 'node:path';",
  'const require = __tributaryCreateRequire(import.meta.url);',
  'const __filename = __tributaryFileURLToPath(import.meta.url);',
  'const __dirname = __tributaryDirname(__filename);',
].join('\n');

/** The napi-rs platform package this machine loads (the image is linux-x64-gnu). */
const HOST_NATIVE_SUFFIX = `${process.platform}-${process.arch}${process.platform === 'linux' ? '-gnu' : ''}`;

/**
 * Marks every other platform's optional napi-rs package (and its package.json) external, and
 * the msgpackr native extractor: see the header comment.
 */
const optionalNativeExternals: Plugin = {
  name: 'optional-native-externals',
  setup(b) {
    // The same for the compression codecs' napi-rs packages (snappy, lz4-napi; issue 19).
    b.onResolve({ filter: /^(@node-rs\/crc32|@napi-rs\/snappy|@antoniomuso\/lz4-napi)-[a-z0-9-]+(\/package\.json)?$/ }, (args) => {
      if (args.path.includes(`-${HOST_NATIVE_SUFFIX}`)) return undefined;
      return { path: args.path, external: true };
    });
    b.onResolve({ filter: /^msgpackr-extract$|^@msgpackr-extract\// }, (args) => ({ path: args.path, external: true }));
    // napi-rs also tries a `.node` file beside its index.js (a local build); there is none.
    b.onResolve({ filter: /^\.\/(crc32|snappy|lz4-napi)\.[a-z0-9-]+\.node$/ }, (args) => ({ path: args.path, external: true }));
  },
};

async function main(): Promise<void> {
  const started = Date.now();
  // `node scripts/build.ts [name…]` builds only the named bundles (default: all three).
  const wanted = process.argv.slice(2);
  for (const name of wanted) if (!Object.hasOwn(ENTRIES, name)) throw new Error(`unknown bundle '${name}'; known: ${Object.keys(ENTRIES).join(', ')}`);
  const entries = [...Object.entries(ENTRIES).filter(([name]) => wanted.length === 0 || wanted.includes(name)), ...Object.entries(WORKERS)];
  rmSync(OUT_DIR, { recursive: true, force: true });
  mkdirSync(OUT_DIR, { recursive: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(entries.map(([name, path]) => [name, join(ROOT, path)])),
    outdir: OUT_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    // One file per process: shared chunks would save a few hundred KiB at the cost of a
    // layout that is harder to read in the image.
    splitting: false,
    sourcemap: false,
    minify: false,
    legalComments: 'none',
    banner: { js: BANNER },
    loader: { '.node': 'copy' },
    // Keep the copied addon's name readable; the hash still changes when the binary does.
    assetNames: '[name]-[hash]',
    plugins: [optionalNativeExternals],
    metafile: true,
    logLevel: 'warning',
  });
  for (const [file] of entries) chmodSync(join(OUT_DIR, `${file}.mjs`), 0o755);
  // The controller's web console (/ui) reads its plain HTML/CSS/JS files from ui/ beside its
  // module: dist/ui beside controller.mjs.
  if (entries.some(([name]) => name === 'controller')) cpSync(join(ROOT, 'packages/controller/src/ui'), join(OUT_DIR, 'ui'), { recursive: true });

  const natives = readdirSync(OUT_DIR).filter((f) => f.endsWith('.node'));
  if (natives.length === 0) throw new Error(`no native addon was copied into dist/: is @node-rs/crc32-${HOST_NATIVE_SUFFIX} installed?`);
  for (const name of readdirSync(OUT_DIR).sort()) {
    const size = statSync(join(OUT_DIR, name)).size;
    process.stdout.write(`  ${relative(ROOT, join(OUT_DIR, name)).padEnd(40)} ${(size / 1024).toFixed(0).padStart(6)} KiB\n`);
  }
  const inputs = Object.keys(result.metafile.inputs).length;
  process.stdout.write(`built ${entries.length} bundles from ${inputs} inputs in ${Date.now() - started} ms\n`);
}

await main();
