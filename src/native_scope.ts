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
import type { PromiseHooks } from "node:v8";
import { promiseHooks } from "node:v8";
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

/**
 * How the owner is carried from a native function to its continuations.
 * Where `AsyncLocalStorage` rides on V8's async context frames (Node 24 and
 * later) it costs next to nothing and is used. Before that it is built on
 * async_hooks, whose promise hooks run Node's whole hook machinery for
 * every Promise of the process (the larger part of an `await` on Node 20);
 * there V8's promise hooks carry the owner directly: a Promise made while
 * an owner is current records it, and a job of that Promise (a
 * continuation after `await`, a `then` callback, the `then()` call of an
 * awaited thenable) runs with it current. Only Promise jobs carry it: a
 * Node callback (a timer, an I/O event) started from a native function
 * does not run as part of its task.
 */
interface OwnerScope {
  get(): NativeScopeOwner | undefined;
  run<R>(owner: NativeScopeOwner, fn: () => R): R;
}

function storageScope(): OwnerScope {
  const storage = new AsyncLocalStorage<NativeScopeOwner>();
  return {
    get: () => storage.getStore(),
    run: (owner, fn) => storage.run(owner, fn),
  };
}

const OWNER: unique symbol = Symbol("asyncio-ts native owner");
type Stamped = Promise<unknown> & { [OWNER]?: NativeScopeOwner };

function promiseHookScope(hooks: PromiseHooks): OwnerScope {
  let current: NativeScopeOwner | undefined;
  const saved: (NativeScopeOwner | undefined)[] = [];
  hooks.createHook({
    init(promise: Stamped): void {
      if (current !== undefined) promise[OWNER] = current;
    },
    before(promise: Stamped): void {
      saved.push(current);
      current = promise[OWNER];
    },
    after(): void {
      current = saved.pop();
    },
  });
  return {
    get: () => current,
    run<R>(owner: NativeScopeOwner, fn: () => R): R {
      const previous = current;
      current = owner;
      try {
        return fn();
      } finally {
        current = previous;
      }
    },
  };
}

/** Node's major version, or `null` off Node. */
function nodeMajor(): number | null {
  const version = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
  return version === undefined ? null : Number.parseInt(version, 10);
}

function makeScope(): OwnerScope {
  const major = nodeMajor();
  if (major !== null && major < 24 && promiseHooks !== undefined) return promiseHookScope(promiseHooks);
  return storageScope();
}

let scope: OwnerScope | null = null;

/** The task whose native async function is running now, outside loop callbacks. */
export function currentNativeOwner(): NativeScopeOwner | undefined {
  if (scope === null || _insideContextRun()) return undefined;
  return scope.get();
}

/** Runs `fn` so that every continuation of it reports `owner`. */
export function runInNativeScope<R>(owner: NativeScopeOwner, fn: () => R): R {
  scope ??= makeScope();
  return scope.run(owner, fn);
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
