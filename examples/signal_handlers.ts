/**
 * Set signal handlers for SIGINT and SIGTERM (the seeds' example): the
 * loop runs until one of them arrives; the handler prints its name and
 * stops the loop. Unix only.
 *
 *     node build/examples/signal_handlers.js     # then Ctrl+C, or kill -TERM <pid>
 */
import * as asyncio from "asyncio-ts";

export async function main(): Promise<void> {
  const loop = asyncio.newEventLoop();
  const askExit = (signame: string): void => {
    console.log(`got signal ${signame}: exit`);
    loop.stop();
  };
  for (const signame of ["SIGINT", "SIGTERM"]) loop.addSignalHandler(signame, askExit, signame);
  console.log("Event loop running forever, press Ctrl+C to interrupt.");
  console.log(`pid ${process.pid}: send SIGINT or SIGTERM to exit.`);
  try {
    await loop.runForever();
  } finally {
    loop.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
