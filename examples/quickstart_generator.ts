/** The README's quick start, with generator coroutines. */
import * as asyncio from "asyncio-ts";

export function* main(): asyncio.Coroutine<number> {
  const task = asyncio.createTask(
    (function* () {
      yield* asyncio.sleep(0.1);
      return 21;
    })(),
  );
  return 2 * (yield* task);
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await asyncio.run(main()));
