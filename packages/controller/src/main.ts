// tributary-controller: `node packages/controller/src/main.ts [flags]` (see config.ts).
// Bad flags print one line on stderr and exit 2; SIGTERM/SIGINT close the service and the
// metadata log, then exit 0.

import { ConfigError, USAGE, parseControllerConfig } from './config.ts';
import { createControllerLogger, startController } from './start.ts';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let config: ReturnType<typeof parseControllerConfig>;
  try {
    config = parseControllerConfig(argv, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tributary-controller: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createControllerLogger(config.logLevel);
  let running: Awaited<ReturnType<typeof startController>>;
  try {
    running = await startController(config, { logger });
  } catch (err) {
    logger.fatal({ err }, 'controller failed to start');
    process.exit(1);
  }
  const stop = (signal: string) => {
    logger.info({ signal }, 'stopping');
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

await main();
