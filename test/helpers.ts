/**
 * Shared helpers of the test suite: a fresh virtual-time loop per test, and
 * a way to collect what the loop reports to its exception handler.
 */
import type { AbstractEventLoop, ExceptionContext } from "asyncio-ts";
import { VirtualTimeLoop } from "asyncio-ts/testing";

/** Runs `body` with a fresh `VirtualTimeLoop` that is closed afterwards. */
export async function withLoop<T>(body: (loop: VirtualTimeLoop) => Promise<T> | T): Promise<T> {
  const loop = new VirtualTimeLoop();
  try {
    return await body(loop);
  } finally {
    if (loop.isRunning()) loop.stop();
    if (!loop.isRunning()) loop.close();
  }
}

/** Installs an exception handler on `loop` that records every context it is given. */
export function captureExceptions(loop: AbstractEventLoop): ExceptionContext[] {
  const seen: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => {
    seen.push(context);
  });
  return seen;
}
