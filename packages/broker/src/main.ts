// tributary-broker: `node packages/broker/src/main.ts --id 0 [--rack rack-1] ...` (see config.ts).
// SIGTERM/SIGINT: controlled shutdown (leaderships move away first), then close and exit 0.

import { ConfigError, loadBrokerConfig, type BrokerConfig } from './config.ts';
import { startBroker } from './broker.ts';

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
