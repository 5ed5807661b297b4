// tributary-broker: `node packages/broker/src/main.ts --id 0 [--rack rack-1] ...` (see config.ts).
// SIGTERM/SIGINT: controlled shutdown (leaderships move away first), then close and exit 0.

import { ConfigError, loadBrokerConfig, type BrokerConfig } from './config.ts';
import { startBroker } from './broker.ts';
import { setFlagsFromString } from 'node:v8';

// GC tuning, as Kafka's start scripts tune the JVM's. A broker allocates ~3 bytes of Buffers per
// byte it carries (request chunks, file reads for fetches, socket reads) and keeps only ~20 MB
// of JS objects; by default V8 starts a full mark-compact for every 64 MB of new Buffers, which
// took a quarter of the broker's CPU under load. Counting Buffers in the heap's global limit
// instead cut major GCs ~5x (46 -> 9 for 1M records over six brokers; the A/B is in
// docs/performance.md) for ~60 MB more peak RSS per broker. Set at start-up, before serving.
setFlagsFromString('--external-memory-accounted-in-global-limit');

let config: BrokerConfig;
try {
  config = loadBrokerConfig(process.argv.slice(2));
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`tributary-broker: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

const broker = await startBroker(config, {
  onFatal: (err) => {
    process.stderr.write(`tributary-broker: invariant broken, stopping: ${(err as Error).message}\n`);
    process.exit(70);
  },
}).catch((err: unknown) => {
  process.stderr.write(`tributary-broker: could not start: ${(err as Error).message}\n`);
  process.exit(1);
});

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  broker.logger.info({ signal }, 'stopping');
  const hardStop = setTimeout(() => {
    broker.logger.error({}, 'shutdown took too long; exiting');
    process.exit(1);
  }, config.controlledShutdownMaxMs + 15_000);
  hardStop.unref();
  try {
    await broker.controlledShutdown();
  } finally {
    await broker.close();
  }
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
process.on('uncaughtException', (err) => {
  // A programmer error (broken invariant): stop loudly rather than serve wrong data.
  broker.logger.fatal({ err }, 'uncaught exception');
  process.exit(70);
});
