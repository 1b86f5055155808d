/** The README's quick start, with async functions. */
import * as asyncio from "asyncio-ts";

export async function main(): Promise<string> {
  const slow = asyncio.createTask(async () => {
    await asyncio.sleep(10);
    return "late";
  });
  await asyncio.sleep(0.1);
  slow.cancel("no time"); // slow gets CancelledError("no time") at its await
  return "done";
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await asyncio.run(main));
