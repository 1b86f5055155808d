/**
 * `runCoroutineThreadsafe` (CPython keeps it in `asyncio.tasks`; it lives
 * here so that tasks need no knowledge of concurrent futures): submits a
 * coroutine to a loop from code running outside that loop's callbacks (a
 * Node callback, an `EventEmitter` listener, code that drives several
 * loops) and returns a `ConcurrentFuture` of its result. A loop belongs to
 * one thread: from another worker thread, post a message to the loop's
 * thread and call this (or `callSoonThreadsafe`) there.
 */
import { ConcurrentFuture } from "./concurrent_futures.js";
import type { AbstractEventLoop } from "./events.js";
import { shortRepr } from "./events.js";
import type { Future } from "./futures.js";
import type { CoroutineLike } from "./tasks.js";
import { _isCoroutineLike, ensureFuture } from "./tasks.js";

/**
 * Schedules `coro` as a task of `loop` and returns a `ConcurrentFuture` of
 * its result: await it (it is a `PromiseLike`) or add done callbacks;
 * cancelling it cancels the task.
 *
 * @example
 * emitter.on("request", (req) => {
 *   const reply = asyncio.runCoroutineThreadsafe(() => handle(req), loop);
 *   reply.then((value) => req.respond(value));
 * });
 */
export function runCoroutineThreadsafe<T>(coro: CoroutineLike<T>, loop: AbstractEventLoop): ConcurrentFuture<T> {
  if (!_isCoroutineLike(coro)) {
    throw new TypeError(`A coroutine (or a function starting one) is required, not ${shortRepr(coro)}`);
  }
  const future = new ConcurrentFuture<T>();
  loop.callSoonThreadsafe(() => {
    let task: Future<T>;
    try {
      task = ensureFuture(coro, { loop });
    } catch (error) {
      if (future.setRunningOrNotifyCancel()) future.setException(error);
      throw error;
    }
    chainTaskToConcurrent(task, future);
  });
  return future;
}

/** Copies the task's outcome into the concurrent future; cancelling the latter cancels the task (CPython's `_chain_future`). */
function chainTaskToConcurrent<T>(task: Future<T>, future: ConcurrentFuture<T>): void {
  future.addDoneCallback(() => {
    if (future.cancelled() && !task.done() && !task.getLoop().isClosed()) task.getLoop().callSoonThreadsafe(() => task.cancel());
  });
  task.addDoneCallback(() => {
    if (task.cancelled()) future.cancel();
    if (!future.setRunningOrNotifyCancel()) return;
    const exception = task.exception();
    if (exception !== null) future.setException(exception);
    else future.setResult(task.result());
  });
}
