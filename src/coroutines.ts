/**
 * Generator coroutines as objects (Python's `asyncio.coroutines`):
 * `coroutine(genFn)` wraps a generator function so that each call returns a
 * `Coro`, a lazily started coroutine that is both `yield*`-able (from
 * generator coroutines) and `await`-able (from async functions; the
 * generator is then driven inline on behalf of the awaiting task, so
 * `currentTask()`, context variables and cancellation are that task's).
 * Also `isCoroutine` and `isCoroutineFunction`.
 */

import { _getRunningLoop, creationStack } from "./events.js";
import { RuntimeError } from "./exceptions.js";
import type { Awaitable, Coroutine } from "./futures.js";
import { logger } from "./log.js";
import { _driveInline } from "./tasks.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");
const kCoroutineFunction = Symbol.for("asyncio-ts.coroutineFunction");

const neverAwaited = new FinalizationRegistry<{ name: string; stack: string | undefined }>((held) => {
  const where = held.stack === undefined ? "" : `\nCoroutine created at:\n${held.stack}`;
  logger.warn(`RuntimeWarning: coroutine '${held.name}' was never awaited${where}`);
});

/** The creation stack to keep for a new coroutine: only in debug mode, where it is reported if never awaited. */
function debugCreationStack(): string | null {
  return _getRunningLoop()?.getDebug() === true ? creationStack() : null;
}

/**
 * A coroutine object: runs nothing until it is awaited, `yield*`-ed or
 * wrapped in a task, and can be consumed once.
 */
export class Coro<T> implements Awaitable<T> {
  private _factory: (() => Coroutine<T>) | null;
  readonly _name: string;
  /** Registered for the "never awaited" warning (debug mode only): `_take` then unregisters it. */
  private _watched = false;

  constructor(factory: () => Coroutine<T>, name = "coroutine") {
    this._factory = factory;
    this._name = name;
    const stack = debugCreationStack();
    if (stack !== null) {
      neverAwaited.register(this, { name, stack }, this);
      this._watched = true;
    }
  }

  /** Starts the coroutine: returns its generator. A second call fails, as reusing a Python coroutine does. */
  [Symbol.iterator](): Coroutine<T> {
    return this._take()();
  }

  /** Marks the coroutine as consumed and returns what starts it; throws if it was consumed before. */
  protected _take(): () => Coroutine<T> {
    const factory = this._factory;
    if (factory === null) throw new RuntimeError(`cannot reuse already awaited coroutine ${this._name}()`);
    this._factory = null;
    if (this._watched) {
      this._watched = false;
      neverAwaited.unregister(this);
    }
    return factory;
  }

  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    try {
      return _driveInline(this[Symbol.iterator](), onfulfilled, onrejected) as Promise<R1 | R2>;
    } catch (error) {
      return Promise.reject(error).then(onfulfilled, onrejected);
    }
  }

  toString(): string {
    return `<coroutine object ${this._name}${this._factory === null ? " (started)" : ""}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/** A function whose calls return `Coro` objects. */
export type CoroFunction<A extends unknown[], T> = ((...args: A) => Coro<T>) & { readonly [kCoroutineFunction]: true };

/**
 * Wraps a generator function so that its calls return `Coro` objects, which
 * async functions can `await` as well (the seeds' `@asyncio.coroutine`).
 *
 * @example
 * const fetchValue = asyncio.coroutine(function* (x: number) {
 *   yield* asyncio.sleep(0.1);
 *   return x * 2;
 * });
 * await fetchValue(21); // 42, from an async function
 */
export function coroutine<A extends unknown[], T>(genFn: (...args: A) => Coroutine<T>): CoroFunction<A, T> {
  if (typeof genFn !== "function") throw new TypeError(`coroutine() needs a generator function, not ${typeof genFn}`);
  const name = genFn.name === "" ? "coroutine" : genFn.name;
  const wrapper = function (this: unknown, ...args: A): Coro<T> {
    return new Coro(() => genFn.apply(this, args), name);
  };
  Object.defineProperty(wrapper, "name", { value: name });
  Object.defineProperty(wrapper, kCoroutineFunction, { value: true });
  return wrapper as CoroFunction<A, T>;
}

const GeneratorFunction = Object.getPrototypeOf(function* () {}).constructor as unknown;
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as unknown;

/** Whether `value` is a generator object (a started or unstarted generator coroutine). */
export function isGeneratorObject(value: unknown): value is Coroutine<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Coroutine<unknown>).next === "function" &&
    typeof (value as Coroutine<unknown>).throw === "function" &&
    typeof (value as Coroutine<unknown>)[Symbol.iterator] === "function"
  );
}

/** Whether `fn` is a `function*`. */
export function isGeneratorFunction(fn: unknown): boolean {
  return typeof fn === "function" && fn.constructor === GeneratorFunction;
}

/** Whether `value` is a coroutine object: a generator object or a `Coro`. */
export function isCoroutine(value: unknown): boolean {
  return value instanceof Coro || isGeneratorObject(value);
}

/** Whether `fn` makes coroutines: a `function*`, an `async function`, or a `coroutine()` wrapper. */
export function isCoroutineFunction(fn: unknown): boolean {
  if (typeof fn !== "function") return false;
  return (
    fn.constructor === GeneratorFunction ||
    fn.constructor === AsyncFunction ||
    (fn as { [kCoroutineFunction]?: boolean })[kCoroutineFunction] === true
  );
}
