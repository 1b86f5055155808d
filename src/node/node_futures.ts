/**
 * Bridges from Node's callback APIs to the loop's futures: a Node callback
 * settles a loop future (whose done callbacks then run inside a loop
 * iteration, never inside Node's callback), and a cancelled future can undo
 * the Node operation it waits for. Used by DNS, connecting, listening and
 * file reads; kept in one place so that "the loop was closed meanwhile" is
 * handled once.
 */
import type { AbstractEventLoop } from "../events.js";
import { osErrorFrom } from "../exceptions.js";
import type { Future } from "../futures.js";

/** How a Node operation reports its outcome to `nodeFuture`. */
export interface Settle<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/**
 * A future of `loop` settled by a Node operation started by `start`. A
 * Node error becomes its OSError (`osErrorFrom(error, what)`). `start` may
 * return an undo function, called if the future is cancelled before the
 * operation finished (for example destroying a connecting socket). A late
 * outcome (after cancellation, or once the loop is closed) is dropped.
 */
export function nodeFuture<T>(
  loop: AbstractEventLoop,
  start: (settle: Settle<T>) => (() => void) | undefined,
  what?: string,
): Future<T> {
  const future = loop.createFuture<T>();
  let undo: (() => void) | undefined;
  const settle: Settle<T> = {
    resolve(value) {
      if (future.done() || loop.isClosed()) return;
      undo = undefined;
      future.setResult(value);
    },
    reject(error) {
      if (future.done() || loop.isClosed()) return;
      undo = undefined;
      future.setException(osErrorFrom(error, what));
    },
  };
  undo = start(settle);
  if (undo !== undefined) {
    future.addDoneCallback((fut) => {
      if (fut.cancelled() && undo !== undefined) undo();
    });
  }
  return future;
}
