/**
 * The body of a scope: what Python writes inside `async with` (a
 * `TaskGroup`, a `timeout()`), passed here as a function because the exit
 * of those scopes depends on the exception (see API.md, section 6).
 *
 * A body runs in the task that enters the scope, as the block of an
 * `async with` does, in either coroutine style:
 * - a generator body (`function* (cm) { ... }`) is delegated to with
 *   `yield*`, so the task steps it like the rest of its coroutine;
 * - a native body (`async (cm) => { ... }`) is called inside the task's
 *   native scope, so that each asyncio awaitable it awaits reports itself
 *   to the task and `task.cancel()` cancels it. The scope then waits for the
 *   body's Promise through a `BodyFuture`.
 */
import { Coro, isGeneratorFunction, isGeneratorObject } from "./coroutines.js";
import type { AbstractEventLoop } from "./events.js";
import { shortRepr } from "./events.js";
import type { Awaitable, Coroutine } from "./futures.js";
import { Future } from "./futures.js";
import { runInNativeScope } from "./native_scope.js";
import { currentTask } from "./tasks.js";

/** What a scope's body may return: a generator, a Promise, any awaitable, or a plain value. */
export type BodyResult<T> = Coroutine<T> | Awaitable<T> | PromiseLike<T> | T;

/** Tells "the body raised nothing" apart from `throw undefined`. */
export const NO_ERROR: unique symbol = Symbol("no error");

/**
 * The future a scope waits on while a native body runs. It stands for code
 * running in the same task, so it refuses `cancel()`: the task then keeps
 * the request (`_mustCancel`) and delivers it at the body's next asyncio
 * await, or to the scope if the body returns first. Once the body awaits an
 * asyncio awaitable, that awaitable replaces this future as the task's
 * `_futWaiter` (`then()` runs in a microtask, after the task suspended on
 * this future), so a cancel request then reaches what the body waits on.
 */
class BodyFuture<T> extends Future<T> {
  override cancel(_msg?: string): boolean {
    return false;
  }
}

/** Throws a `TypeError` unless `body` is a function. */
export function checkBody(body: unknown, where: string): void {
  if (typeof body !== "function") {
    throw new TypeError(
      `${where} needs a body function, such as async (cm) => { ... } or function* (cm) { ... }, got ${shortRepr(body)}`,
    );
  }
}

/**
 * Runs `body(arg)` in the current task and returns what it returns (a
 * generator coroutine, to be delegated to with `yield*` from the scope).
 */
export function* runBody<A, T>(body: (arg: A) => BodyResult<T>, arg: A, loop: AbstractEventLoop): Coroutine<T> {
  const task = isGeneratorFunction(body) ? null : currentTask(loop);
  const started = task === null ? body(arg) : runInNativeScope(task, () => body(arg));
  return yield* awaitStarted(started as BodyResult<T>, loop);
}

function* awaitStarted<T>(started: BodyResult<T>, loop: AbstractEventLoop): Coroutine<T> {
  if (isGeneratorObject(started) || started instanceof Coro || started instanceof Future) {
    return yield* started as Awaitable<T>;
  }
  if (isThenable(started)) {
    const future = new BodyFuture<T>({ loop });
    started.then(
      (value) => {
        if (!future.done() && !loop.isClosed()) future.setResult(value);
      },
      (error: unknown) => {
        if (!future.done() && !loop.isClosed()) future.setException(error);
      },
    );
    return yield* future;
  }
  return started as T;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
