/**
 * What the server examples share: their command-line options, and running
 * a loop until SIGINT or SIGTERM (the seeds' servers run until Ctrl+C
 * raises KeyboardInterrupt; here a signal handler stops the loop).
 */
import { parseArgs } from "node:util";
import type * as asyncio from "asyncio-ts";

/** `--host` (default 127.0.0.1), `--port` (default `port`; 0 picks a free one), `--generator`. */
export function options(port: number): { host: string; port: number; generator: boolean } {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: String(port) },
      generator: { type: "boolean", default: false },
    },
  });
  return { host: values.host as string, port: Number(values.port), generator: values.generator === true };
}

/** Runs `loop` until SIGINT or SIGTERM. */
export async function runUntilInterrupted(loop: asyncio.AbstractEventLoop): Promise<void> {
  for (const sig of ["SIGINT", "SIGTERM"]) loop.addSignalHandler(sig, () => loop.stop());
  await loop.runForever();
  for (const sig of ["SIGINT", "SIGTERM"]) loop.removeSignalHandler(sig);
}
