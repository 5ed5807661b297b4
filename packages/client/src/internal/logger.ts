// The client is silent unless given a logger (STYLE.md § Logs). Any pino logger fits.

export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const noop = (): void => {};
export const SILENT: Logger = { debug: noop, info: noop, warn: noop, error: noop };
