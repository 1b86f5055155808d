/**
 * Where asyncio's own messages go (Python's `asyncio.log.logger`). The
 * logger is any object with the console's shape; the default writes
 * warnings and errors to standard error. `setLogger(console)`, a pino or a winston logger route the
 * messages elsewhere.
 */

/** The console-shaped logger asyncio writes to. */
export interface Logger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

function ignore(): void {}

/**
 * The default: warnings and errors to standard error. Debug and info
 * messages are dropped, as Python's logging does until it is configured
 * (its default level is WARNING); `setLogger(console)` shows them.
 */
const stderrLogger: Logger = {
  debug: ignore,
  info: ignore,
  warn: (...args) => console.error(...args),
  error: (...args) => console.error(...args),
};

let current: Logger = stderrLogger;

/**
 * The current logger. It forwards to whatever `setLogger` installed, so a
 * reference taken before `setLogger` still follows it.
 */
export const logger: Logger = {
  debug: (...args) => current.debug(...args),
  info: (...args) => current.info(...args),
  warn: (...args) => current.warn(...args),
  error: (...args) => current.error(...args),
};

/** Routes asyncio's messages to `l`; `null` restores the default (standard error). */
export function setLogger(l: Logger | null): void {
  if (l !== null) {
    for (const method of ["debug", "info", "warn", "error"] as const) {
      if (typeof l[method] !== "function") throw new TypeError(`setLogger() needs an object with a ${method}() method`);
    }
  }
  current = l ?? stderrLogger;
}
