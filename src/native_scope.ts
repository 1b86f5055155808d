/**
 * Which task a native async function belongs to. A native coroutine resumes
 * in a microtask, outside any loop callback, so the task that runs it is
 * found through an `AsyncLocalStorage` whose store is that task. The storage
 * is created on first use: programs that only use generator coroutines never
 * pay for async-context tracking.
 *
 * Inside a loop callback (`Context.run` on the stack) the store is not
 * consulted: the loop's own iteration may have been scheduled from a native
 * continuation and so carry its store, which says nothing about the callback.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Context } from "./contextvars.js";
import { _insideContextRun } from "./contextvars.js";
import type { AbstractEventLoop } from "./events.js";
import type { Future } from "./futures.js";

/** What the scope records: the task that owns a native async function. */
export interface NativeScopeOwner {
  /** The task's context, current in the function's continuations. */
  readonly _context: Context;
  readonly _loop: AbstractEventLoop;
  /** The function awaits `future`: cancelling the task cancels it (a no-op once `future` is done). */
  _awaitFuture(future: Future<unknown>): void;
}

let storage: AsyncLocalStorage<NativeScopeOwner> | null = null;

/** The task whose native async function is running now, outside loop callbacks. */
export function currentNativeOwner(): NativeScopeOwner | undefined {
  if (storage === null || _insideContextRun()) return undefined;
  return storage.getStore();
}

/** Runs `fn` so that every continuation of it reports `owner`. */
export function runInNativeScope<R>(owner: NativeScopeOwner, fn: () => R): R {
  storage ??= new AsyncLocalStorage<NativeScopeOwner>();
  return storage.run(owner, fn);
}

/**
 * Set when a loop callback made a native continuation runnable (settled a
 * Promise that native code awaits, or started a native function). The
 * continuation, and the `then()` call of whatever it awaits next, are
 * microtasks that take a few hops: the loop then decides what follows the
 * iteration only once the microtask queue has drained (see
 * `BaseEventLoop._finishAfterMicrotasks`), so that the continuation runs
 * within the iteration that woke it, as a task step does in CPython.
 */
let nativeWakeup = false;

/** Records that a native continuation was made runnable (see `nativeWakeup`). */
export function _markNativeWakeup(): void {
  nativeWakeup = true;
}

/** Whether a native continuation was made runnable since the last call; clears the mark. */
export function _takeNativeWakeup(): boolean {
  const marked = nativeWakeup;
  nativeWakeup = false;
  return marked;
}
