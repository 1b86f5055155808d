/**
 * Queues for producer and consumer tasks (Python's `asyncio.queues`):
 * `Queue` (first in, first out), `LifoQueue` (last in, first out) and
 * `PriorityQueue` (lowest first), with CPython 3.13's semantics including
 * `shutdown(immediate)`. Blocked `get()` and `put()` calls wait in a
 * `WaiterQueue` (`waiters.ts`); a waiter is only told to look again, so a
 * cancelled `get()` never loses an item and a cancelled `put()` never
 * inserts one, and a wake-up a cancelled waiter cannot use is passed on.
 *
 * An addition to asyncio: a queue is an `AsyncIterable`, so that
 * `for await (const item of queue)` gets items until the queue is shut down
 * and drained.
 */
import { Deque } from "./collections.js";
import { Coro } from "./coroutines.js";
import { QueueEmpty, QueueFull, QueueShutDown, ValueError } from "./exceptions.js";
import type { Awaitable, Coroutine } from "./futures.js";
import { Event } from "./locks.js";
import type { WouldWait } from "./waiters.js";
import { FastPathCoro, LoopBound, WaiterQueue, WOULD_WAIT } from "./waiters.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** The storage a queue class keeps its items in: what `qsize()` and the repr need. */
interface Storage<T> extends Iterable<T> {
  readonly length: number;
}

/**
 * A first-in, first-out queue (Python's `asyncio.Queue`). With `maxsize`
 * above 0, `put()` waits while the queue holds `maxsize` items.
 *
 * @example
 * const queue = new asyncio.Queue<number>(100);
 * async function producer() {
 *   for (let i = 0; i < 10; i++) await queue.put(i);
 *   queue.shutdown(); // consumers finish once the queue is drained
 * }
 * async function consumer() {
 *   for await (const item of queue) { // an addition to asyncio: ends at shutdown
 *     console.log(item);
 *     queue.taskDone();
 *   }
 * }
 */
export class Queue<T = unknown> extends LoopBound implements AsyncIterable<T> {
  private readonly _maxsize: number;
  /** The items; what it is depends on the class (see `_init`). */
  protected _queue: Storage<T>;
  /** Tasks blocked in `get()`; a waiter is taken out of line as it is woken. */
  private readonly _getters = new WaiterQueue<void>();
  /** Tasks blocked in `put()`; likewise. */
  private readonly _putters = new WaiterQueue<void>();
  /** Items put and not yet marked done by `taskDone()`. Invariant: never negative. */
  private _unfinishedTasks = 0;
  /** Set exactly when `_unfinishedTasks` is 0. */
  private readonly _finished = new Event();
  private _isShutdown = false;
  private readonly _onGetterAbandon = (woken: boolean): void => {
    // Woken by an item this getter will not take: wake the next in line.
    if (woken && !this.empty()) this._getters.popAndWake(undefined);
  };
  private readonly _onPutterAbandon = (woken: boolean): void => {
    if (woken && !this.full()) this._putters.popAndWake(undefined);
  };

  /** A queue holding at most `maxsize` items (0 or less: unbounded). */
  constructor(maxsize = 0) {
    super();
    if (typeof maxsize !== "number" || Number.isNaN(maxsize)) {
      throw new TypeError(`${new.target.name} maxsize must be a number, got ${String(maxsize)}`);
    }
    this._maxsize = maxsize;
    this._finished.set();
    this._queue = this._init(maxsize);
  }

  // The three overridable methods, as in CPython.

  /** Makes the storage (called once, by the constructor). */
  protected _init(_maxsize: number): Storage<T> {
    return new Deque<T>();
  }

  /** Adds an item to the storage. */
  protected _put(item: T): void {
    (this._queue as Deque<T>).push(item);
  }

  /** Takes the next item out of the storage (never called when empty). */
  protected _get(): T {
    return (this._queue as Deque<T>).shift() as T;
  }

  /** How many items the queue may hold (0 or less: no limit). */
  get maxsize(): number {
    return this._maxsize;
  }

  /** The number of items in the queue. */
  qsize(): number {
    return this._queue.length;
  }

  /** Whether the queue holds no item. */
  empty(): boolean {
    return this._queue.length === 0;
  }

  /** Whether the queue holds `maxsize` items (never, when `maxsize` is 0 or less). */
  full(): boolean {
    return this._maxsize > 0 && this._queue.length >= this._maxsize;
  }

  /**
   * Puts `item` in, waiting while the queue is full. `QueueShutDown` if the
   * queue is shut down (before or while waiting).
   */
  put(item: T): Awaitable<void> {
    return new FastPathCoro(Queue._startPut, "Queue.put", Queue._putNow, this as Queue<unknown>, item as unknown);
  }

  /** Puts `item` in at once: `QueueFull` if the queue is full, `QueueShutDown` if it is shut down. */
  putNowait(item: T): void {
    if (this._isShutdown) throw new QueueShutDown(`putNowait() on a ${this.constructor.name} that is shut down`);
    // Messages name the class, not the whole repr: these errors are raised on hot paths (polling with getNowait()).
    if (this.full()) throw new QueueFull(`putNowait() on a full ${this.constructor.name} (maxsize=${this._maxsize})`);
    this._put(item);
    this._unfinishedTasks += 1;
    this._finished.clear();
    this._getters.popAndWake(undefined);
  }

  /**
   * Takes the next item out, waiting while the queue is empty.
   * `QueueShutDown` once the queue is shut down and empty (at once if it
   * was shut down with `immediate`).
   */
  get(): Awaitable<T> {
    return new FastPathCoro(Queue._startGet, "Queue.get", Queue._getNow, this) as Awaitable<T>;
  }

  /** Takes the next item out at once: `QueueEmpty` if there is none, `QueueShutDown` if shut down and empty. */
  getNowait(): T {
    if (this.empty()) {
      if (this._isShutdown) throw new QueueShutDown(`getNowait() on a ${this.constructor.name} that is shut down and empty`);
      throw new QueueEmpty(`getNowait() on an empty ${this.constructor.name}`);
    }
    const item = this._get();
    this._putters.popAndWake(undefined);
    return item;
  }

  /**
   * Marks one item taken out as processed; `join()` returns once every item
   * put is. `ValueError` if called more times than items were put.
   */
  taskDone(): void {
    if (this._unfinishedTasks <= 0)
      throw new ValueError(`taskDone() called too many times (more than items put in this ${this.constructor.name})`);
    this._unfinishedTasks -= 1;
    if (this._unfinishedTasks === 0) this._finished.set();
  }

  /** Waits until every item put has been marked done with `taskDone()`. */
  join(): Awaitable<void> {
    return new Coro(() => this._join(), "Queue.join");
  }

  /**
   * Shuts the queue down: `put()` and `putNowait()` raise `QueueShutDown`
   * from now on, and so do `get()` and `getNowait()` once the queue is
   * empty. Blocked callers are woken to see it. With `immediate`, the items
   * left are dropped (each counting as done for `join()`), so gets raise at
   * once.
   */
  shutdown(immediate = false): void {
    this._isShutdown = true;
    if (immediate) {
      while (!this.empty()) {
        this._get();
        if (this._unfinishedTasks > 0) this._unfinishedTasks -= 1;
      }
      if (this._unfinishedTasks === 0) this._finished.set();
    }
    // Blocked callers re-check the state, and raise.
    this._getters.popAllAndWake(undefined);
    this._putters.popAllAndWake(undefined);
  }

  /**
   * Iterates over the items as `get()` takes them, ending when the queue is
   * shut down and empty. An addition to asyncio (whose queues are not
   * iterable). Items still count for `join()`: call `taskDone()` for each.
   */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: async (): Promise<IteratorResult<T>> => {
        try {
          return { value: await this.get(), done: false };
        } catch (error) {
          if (error instanceof QueueShutDown) return { value: undefined, done: true };
          throw error;
        }
      },
    };
  }

  /** `put()` without waiting: puts the item if there is room, raises if shut down, or says it would wait. */
  // Shared by every put()/get(): no closures per call (see FastPathCoro).
  private static readonly _startPut = (queue: Queue<unknown>, item: unknown): Coroutine<void> => queue._putWaiting(item);
  private static readonly _putNow = (queue: Queue<unknown>, item: unknown): undefined | WouldWait => queue._tryPut(item);
  private static readonly _startGet = <U>(queue: Queue<U>): Coroutine<U> => queue._getWaiting();
  private static readonly _getNow = <U>(queue: Queue<U>): U | WouldWait => queue._tryGet();

  private _tryPut(item: T): undefined | WouldWait {
    if (!this.full()) {
      this.putNowait(item);
      return undefined;
    }
    if (this._isShutdown) throw new QueueShutDown(`put() on a ${this.constructor.name} that is shut down`);
    return WOULD_WAIT;
  }

  /** `get()` without waiting: takes an item if there is one, raises if shut down, or says it would wait. */
  private _tryGet(): T | WouldWait {
    if (!this.empty()) return this.getNowait();
    if (this._isShutdown) throw new QueueShutDown(`get() on a ${this.constructor.name} that is shut down and empty`);
    return WOULD_WAIT;
  }

  private *_putWaiting(item: T): Coroutine<void> {
    // Woken waiters look again: the room may be gone, or the queue shut down.
    while (this._tryPut(item) === WOULD_WAIT) yield* this._putters.wait(this._getLoop(), this._onPutterAbandon);
  }

  private *_getWaiting(): Coroutine<T> {
    for (;;) {
      const item = this._tryGet();
      if (item !== WOULD_WAIT) return item;
      yield* this._getters.wait(this._getLoop(), this._onGetterAbandon);
    }
  }

  private *_join(): Coroutine<void> {
    if (this._unfinishedTasks > 0) yield* this._finished.wait();
  }

  /** The state, as CPython's `Queue._format` shows it. */
  protected _format(): string {
    let result = `maxsize=${formatItem(this._maxsize)}`;
    if (this._queue.length > 0) result += ` _queue=${formatItem([...this._queue])}`;
    if (this._getters.size > 0) result += ` _getters[${this._getters.size}]`;
    if (this._putters.size > 0) result += ` _putters[${this._putters.size}]`;
    if (this._unfinishedTasks > 0) result += ` tasks=${this._unfinishedTasks}`;
    if (this._isShutdown) result += " shutdown";
    return result;
  }

  override toString(): string {
    return `<${this.constructor.name} ${this._format()}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/**
 * A last-in, first-out queue (Python's `asyncio.LifoQueue`): `get()` takes
 * the item put most recently.
 */
export class LifoQueue<T = unknown> extends Queue<T> {
  protected override _init(_maxsize: number): Storage<T> {
    return [] as T[];
  }

  protected override _put(item: T): void {
    (this._queue as T[]).push(item);
  }

  protected override _get(): T {
    return (this._queue as T[]).pop() as T;
  }
}

/** Orders two items: negative if `a` comes first, positive if `b` does, 0 if either may. */
export type Comparator<T> = (a: T, b: T) => number;

/** Options of `PriorityQueue`. */
export interface PriorityQueueOptions<T> {
  /**
   * The order, as for `Array.prototype.sort`. By default numbers (and
   * bigints, booleans) and strings ascend, and arrays compare element by
   * element as Python compares tuples: `[priority, data]` entries work as
   * they do in Python.
   */
  compare?: Comparator<T>;
}

/**
 * A priority queue (Python's `asyncio.PriorityQueue`): `get()` takes the
 * lowest item first. Items are kept in a binary heap with Python's `heapq`
 * algorithm, so items of equal priority come out in the same order as in
 * Python. The default order throws `TypeError` for items it cannot order
 * (objects, mixed types); pass `compare` to order anything.
 *
 * @example
 * const q = new asyncio.PriorityQueue<[number, string]>();
 * q.putNowait([2, "later"]);
 * q.putNowait([1, "first"]);
 * q.getNowait(); // [1, "first"]
 * const byDeadline = new asyncio.PriorityQueue<Job>(0, { compare: (a, b) => a.deadline - b.deadline });
 */
export class PriorityQueue<T = unknown> extends Queue<T> {
  private readonly _compare: Comparator<T>;

  /** A priority queue holding at most `maxsize` items, ordered by `options.compare` or Python's order. */
  constructor(maxsize = 0, options: PriorityQueueOptions<T> = {}) {
    super(maxsize);
    const compare = options.compare ?? (pythonCompare as Comparator<T>);
    if (typeof compare !== "function") throw new TypeError(`PriorityQueue compare must be a function, got ${typeof compare}`);
    this._compare = compare;
  }

  protected override _init(_maxsize: number): Storage<T> {
    return [] as T[];
  }

  protected override _put(item: T): void {
    const heap = this._queue as T[];
    heap.push(item);
    this._siftDown(heap, 0, heap.length - 1);
  }

  protected override _get(): T {
    const heap = this._queue as T[];
    const last = heap.pop() as T;
    if (heap.length === 0) return last;
    const top = heap[0] as T;
    heap[0] = last;
    this._siftUp(heap, 0);
    return top;
  }

  private _less(a: T, b: T): boolean {
    return this._compare(a, b) < 0;
  }

  /** `heapq._siftdown`: moves the item at `pos` up towards `start` while it is less than its parent. */
  private _siftDown(heap: T[], start: number, pos: number): void {
    const item = heap[pos] as T;
    while (pos > start) {
      const parentPos = (pos - 1) >> 1;
      const parent = heap[parentPos] as T;
      if (!this._less(item, parent)) break;
      heap[pos] = parent;
      pos = parentPos;
    }
    heap[pos] = item;
  }

  /**
   * `heapq._siftup`: moves the smaller child up until the hole at `pos`
   * reaches a leaf, puts the item there, then sifts it back up (fewer
   * comparisons than stopping early, and the same order as Python).
   */
  private _siftUp(heap: T[], pos: number): void {
    const end = heap.length;
    const start = pos;
    const item = heap[pos] as T;
    let child = 2 * pos + 1;
    while (child < end) {
      const right = child + 1;
      if (right < end && !this._less(heap[child] as T, heap[right] as T)) child = right;
      heap[pos] = heap[child] as T;
      pos = child;
      child = 2 * pos + 1;
    }
    heap[pos] = item;
    this._siftDown(heap, start, pos);
  }
}

type Scalar = "number" | "string";

function scalarKind(value: unknown): Scalar | null {
  switch (typeof value) {
    case "number":
    case "bigint":
    case "boolean":
      return "number";
    case "string":
      return "string";
    default:
      return null;
  }
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "Array";
  if (typeof value === "object") return (value as object).constructor?.name ?? "Object";
  return typeof value;
}

/** Compares strings by code point, as Python does (`<` on JavaScript strings compares UTF-16 code units). */
function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    // A surrogate pair encodes a code point above every BMP character.
    if (xSurrogate !== ySurrogate && (xSurrogate ? y : x) >= 0xe000) return xSurrogate ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * Python's order for what a `PriorityQueue` usually holds: numbers
 * (bigints and booleans count as numbers), strings, and arrays compared
 * element by element like tuples (the first unequal pair decides; a prefix
 * comes first). Identical values are equal; anything else it cannot order
 * throws `TypeError`, as `<` does in Python.
 */
export function pythonCompare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  const kind = scalarKind(a);
  if (kind !== null && kind === scalarKind(b)) {
    if (kind === "string") return compareStrings(a as string, b as string);
    const x = a as number;
    const y = b as number;
    return x < y ? -1 : y < x ? 1 : 0;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (a[i] === b[i]) continue;
      const order = pythonCompare(a[i], b[i]);
      // Unequal but unordered (NaN): Python's tuple comparison stops there too.
      if (order !== 0 || Number.isNaN(a[i]) || Number.isNaN(b[i])) return order;
    }
    return a.length - b.length;
  }
  throw new TypeError(
    `'<' not supported between instances of '${typeName(a)}' and '${typeName(b)}': ` +
      "PriorityQueue orders numbers, strings and arrays of them by default; pass { compare } to order other items",
  );
}

/** An item as the queue's repr shows it: Python-like lists, quoted strings. */
function formatItem(value: unknown, depth = 0): string {
  if (typeof value === "string") return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n")}'`;
  if (typeof value === "bigint") return `${value}n`;
  if (Array.isArray(value)) {
    if (depth > 3) return "[...]";
    return `[${value.map((item) => formatItem(item, depth + 1)).join(", ")}]`;
  }
  if (value !== null && typeof value === "object") {
    const custom = (value as { [inspectSymbol]?: () => string })[inspectSymbol];
    if (typeof custom === "function") return custom.call(value);
    return `<${typeName(value)}>`;
  }
  if (typeof value === "function") return `<function ${value.name || "anonymous"}>`;
  return String(value);
}
