/**
 * The two containers the loop schedules with: a ring-buffer `Deque` for the
 * ready queue (amortised O(1) push and shift, no array re-indexing) and a
 * binary min-heap of timers ordered by `(when, sequence)`, so that timers
 * due at the same instant run in the order they were scheduled.
 */

/** A first-in first-out queue on a power-of-two ring buffer. */
export class Deque<T> {
  private _items: (T | undefined)[] = new Array(16);
  private _head = 0;
  private _length = 0;

  get length(): number {
    return this._length;
  }

  push(item: T): void {
    const items = this._items;
    if (this._length === items.length) this._grow();
    this._items[(this._head + this._length) & (this._items.length - 1)] = item;
    this._length++;
  }

  /** Removes and returns the oldest item; `undefined` when empty. */
  shift(): T | undefined {
    if (this._length === 0) return undefined;
    const items = this._items;
    const item = items[this._head];
    items[this._head] = undefined;
    this._head = (this._head + 1) & (items.length - 1);
    this._length--;
    return item;
  }

  peek(): T | undefined {
    return this._length === 0 ? undefined : this._items[this._head];
  }

  clear(): void {
    this._items = new Array(16);
    this._head = 0;
    this._length = 0;
  }

  /** Removes every item for which `predicate` is true, keeping the order of the rest. */
  removeIf(predicate: (item: T) => boolean): number {
    const kept: T[] = [];
    for (const item of this) if (!predicate(item)) kept.push(item);
    const removed = this._length - kept.length;
    this.clear();
    for (const item of kept) this.push(item);
    return removed;
  }

  *[Symbol.iterator](): Generator<T, void, undefined> {
    const items = this._items;
    const mask = items.length - 1;
    for (let i = 0; i < this._length; i++) yield items[(this._head + i) & mask] as T;
  }

  private _grow(): void {
    const old = this._items;
    const next: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this._length; i++) next[i] = old[(this._head + i) & (old.length - 1)];
    this._items = next;
    this._head = 0;
  }
}

/** What the timer heap orders: a due time, and a sequence number breaking ties. */
export interface HeapEntry {
  _when: number;
  _seq: number;
}

function before(a: HeapEntry, b: HeapEntry): boolean {
  return a._when < b._when || (a._when === b._when && a._seq < b._seq);
}

/** A binary min-heap on `(when, seq)`. */
export class TimerHeap<T extends HeapEntry> {
  private _items: T[] = [];

  get length(): number {
    return this._items.length;
  }

  peek(): T | undefined {
    return this._items[0];
  }

  push(item: T): void {
    const items = this._items;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, items[parent] as T)) break;
      items[i] = items[parent] as T;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this._items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) this._siftDown(last);
    return top;
  }

  clear(): void {
    this._items = [];
  }

  /** Drops every item for which `predicate` is true and rebuilds the heap in O(n). */
  removeIf(predicate: (item: T) => boolean): void {
    const kept = this._items.filter((item) => !predicate(item));
    this._items = kept;
    for (let i = (kept.length >> 1) - 1; i >= 0; i--) this._siftDownFrom(i);
  }

  [Symbol.iterator](): Iterator<T> {
    return this._items[Symbol.iterator]();
  }

  private _siftDown(item: T): void {
    this._items[0] = item;
    this._siftDownFrom(0);
  }

  private _siftDownFrom(start: number): void {
    const items = this._items;
    const n = items.length;
    const item = items[start] as T;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(items[child + 1] as T, items[child] as T)) child++;
      if (!before(items[child] as T, item)) break;
      items[i] = items[child] as T;
      i = child;
    }
    items[i] = item;
  }
}
