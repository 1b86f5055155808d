/**
 * A subprocess with streams (the seeds' "Subprocess using streams"):
 * createSubprocessExec() with stdout=PIPE, one readline() from the child's
 * stdout, then wait(). Both styles: an async function, or with
 * `--generator` a generator coroutine.
 *
 *     node build/examples/subprocess_streams.js [--generator]
 */
import { parseArgs } from "node:util";
import * as asyncio from "asyncio-ts";

const code = "console.log(new Date().toISOString())";

export async function getDate(): Promise<string> {
  // Create the subprocess, redirect the standard output into a pipe
  const proc = await asyncio.createSubprocessExec(process.execPath, "-e", code, { stdout: asyncio.PIPE });
  // Read one line of output
  const data = await proc.stdout!.readline();
  const line = data.toString("ascii").trimEnd();
  // Wait for the subprocess exit
  await proc.wait();
  return line;
}

export function* getDateGenerator(): asyncio.Coroutine<string> {
  const proc = yield* asyncio.createSubprocessExec(process.execPath, "-e", code, { stdout: asyncio.PIPE });
  const data = yield* proc.stdout!.readline();
  const line = data.toString("ascii").trimEnd();
  yield* proc.wait();
  return line;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { generator: { type: "boolean" } } });
  const date = await asyncio.run(values.generator ? getDateGenerator() : getDate);
  console.log(`Current date: ${date}`);
}
