/**
 * `addReader`/`addWriter` on any file descriptor (Python's selector-based
 * `add_reader`, here a libuv `uv_poll_t` on Node's own loop through the
 * addon). One watcher per descriptor holds the reader and writer handles.
 *
 * libuv reports readiness from its poll phase; the addon gathers the
 * reports of one phase and hands them to `dispatchReports` in one call
 * right after it. The callbacks must run inside loop iterations, so a
 * report only queues the descriptor's entry on the loop's ready queue (as
 * CPython's `_process_events` queues the handles). Polling is
 * level-triggered and the entry is queued at most once at a time: a report that arrives while it
 * waits is merged into it. While the loop is stopped nothing may run, and a
 * ready descriptor would wake libuv over and over: the first report then
 * stops the watcher, and the queued entry restarts it when the loop runs
 * again (the fresh poll says whether the descriptor is still ready).
 * Watchers are unref'd: they never keep the process alive (the running
 * loop does).
 */

import type { BaseEventLoop } from "../base_events.js";
import type { Callback, Runnable } from "../events.js";
import { Handle } from "../events.js";
import { FileExistsError, RuntimeError, ValueError } from "../exceptions.js";
import type { Watcher } from "./addon.js";
import { addon, sys } from "./addon.js";

/** What `addReader` and friends take: a descriptor, or an object with `fileno()`. */
export type FileDescriptorLike = number | { fileno(): number };

/** Python's `_fileobj_to_fd`: the descriptor of `fileobj`, with its errors. */
export function fileobjToFd(fileobj: FileDescriptorLike): number {
  let fd: unknown = fileobj;
  if (typeof fileobj !== "number") {
    const fileno = (fileobj as { fileno?: unknown } | null)?.fileno;
    if (typeof fileno !== "function") throw new ValueError(`Invalid file object: ${String(fileobj)}`);
    fd = fileno.call(fileobj);
  }
  if (typeof fd !== "number" || !Number.isInteger(fd)) throw new ValueError(`Invalid file object: ${String(fileobj)}`);
  if (fd < 0) throw new ValueError(`Invalid file descriptor: ${fd}`);
  return fd;
}

/**
 * The thread's entries by watcher id (the id given to `pollNew`; ids are
 * reused, the array stays dense). The addon batches the reports of one
 * libuv poll phase and calls `dispatchReports` once after it, in the check
 * phase: one crossing into JavaScript per phase instead of one per ready
 * descriptor, and every entry of the phase is queued before the loop wakes,
 * so one iteration serves what one poll found. The addon never reports a
 * watcher after `pollClose`, so a released id may be given out again at
 * once.
 */
const entriesById: (FdEntry | undefined)[] = [];
const freeIds: number[] = [];
let dispatcherSet = false;

function allocateId(entry: FdEntry): number {
  const id = freeIds.pop() ?? entriesById.length;
  entriesById[id] = entry;
  return id;
}

function releaseId(id: number): void {
  entriesById[id] = undefined;
  freeIds.push(id);
}

/** What runs once a poll phase's reports are all dispatched (`afterReports`). */
let reportsDone: (() => void) | null = null;

/**
 * Sets what runs once each poll phase's reports are all dispatched, before
 * the loop iteration that runs the readers: the native transports receive
 * ahead there, all in one addon call (see `FdEntry.prefetch`).
 */
export function afterReports(fn: () => void): void {
  reportsDone = fn;
}

/**
 * After a poll phase: each report to its entry, then `reportsDone`. An
 * entry that throws does not cost the others their reports; the first
 * error is rethrown at the end and reaches `uncaughtException`, as from any
 * I/O callback.
 */
function dispatchReports(reports: Int32Array, count: number): void {
  const end = count * 3;
  let failed = false;
  let failure: unknown;
  for (let i = 0; i < end; i += 3) {
    const entry = entriesById[reports[i] as number];
    if (entry === undefined) continue;
    try {
      entry._onPoll(reports[i + 1] as number, reports[i + 2] as number);
    } catch (error) {
      if (!failed) failure = error;
      failed = true;
    }
  }
  try {
    reportsDone?.();
  } catch (error) {
    if (!failed) failure = error;
    failed = true;
  }
  if (failed) throw failure;
}

/** The libuv events that wake a reader (`UV_READABLE | UV_DISCONNECT`), read from the addon with the first watcher. */
let readEvents = 0;

/** Every descriptor watched in this thread, by number: libuv allows one poll handle per descriptor. */
const watchedFds = new Map<number, FdEntry>();

/** One watched descriptor: its uv_poll_t, its reader and writer, and its place in the ready queue. */
class FdEntry implements Runnable {
  reader: Handle | null = null;
  writer: Handle | null = null;
  /**
   * Runs at a readable report, in the poll phase, for a reader that
   * receives ahead (a native transport queues itself to receive in
   * `reportsDone`, see `addReader`). Null without a reader.
   */
  prefetch: (() => void) | null = null;
  /**
   * Kept, idle, once its reader and writer are gone: the descriptor belongs
   * to a `socket.Socket` that the loop's sock* methods wait on again and
   * again, and `Socket.close()`/`detach()` releases the watcher
   * (`releaseDescriptor`). Making a uv_poll_t per wait cost more than the
   * receive itself.
   */
  keep = false;
  /** Whether the entry waits in the loop's ready queue (a report arrived since it last ran). */
  private _queued = false;
  /** The libuv events reported since the entry last ran (`-1`: an error, which wakes both sides). */
  private _events = 0;
  /** The watcher is stopped because a report came while the loop was stopped. */
  private _paused = false;
  private readonly _watcher: Watcher;
  /** The id the addon's reports carry (see `entriesById`). */
  private readonly _id: number;
  /** The watcher was released; a queued run does nothing. */
  private _closed = false;
  /**
   * The mask libuv polls for now. For a kept entry it may be wider than
   * the reader and writer need: narrowing is lazy, done when a report comes
   * for a side nobody waits on. A socket that waits again before its next
   * report (a request/response loop) then costs no epoll_ctl at all.
   */
  private _polling = 0;

  constructor(
    readonly fd: number,
    readonly loop: BaseEventLoop,
  ) {
    const native = addon();
    if (!dispatcherSet) {
      native.pollInit(dispatchReports);
      readEvents = native.UV_READABLE | native.UV_DISCONNECT;
      dispatcherSet = true;
    }
    this._id = allocateId(this);
    try {
      this._watcher = sys(() => native.pollNew(fd, this._id));
    } catch (error) {
      releaseId(this._id);
      if (!(error instanceof FileExistsError)) throw error;
      // libuv allows one watcher per descriptor: a Node stream (net.Socket, a pipe, a tty) already has this one.
      throw new RuntimeError(`File descriptor ${fd} is already watched by Node itself (a net.Socket or stream on it)`, {
        cause: error,
      });
    }
  }

  /** The libuv mask this entry polls for now. */
  private _mask(): number {
    const native = addon();
    return (
      (this.reader === null ? 0 : native.UV_READABLE | native.UV_DISCONNECT) | (this.writer === null ? 0 : native.UV_WRITABLE)
    );
  }

  /** Starts, changes or stops polling after the reader or writer changed. */
  update(): void {
    if (this._paused) return;
    const wanted = this._mask();
    if (wanted === this._polling || (this.keep && (wanted & ~this._polling) === 0)) return;
    this._poll(wanted);
  }

  private _poll(mask: number): void {
    sys(() => addon().pollStart(this._watcher, mask));
    this._polling = mask;
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    addon().pollClose(this._watcher);
    releaseId(this._id);
  }

  /** A report of the last poll phase (`dispatchReports`, outside any loop iteration): queue the entry once. */
  _onPoll(status: number, events: number): void {
    if (this._closed) return;
    this._events |= status < 0 ? -1 : events;
    const loop = this.loop;
    if (!loop.isRunning()) {
      addon().pollStart(this._watcher, 0);
      this._polling = 0;
      this._paused = true;
    } else if (this.prefetch !== null && status >= 0 && (events & readEvents) !== 0) {
      this.prefetch();
    }
    if (this._queued || loop.isClosed()) return;
    this._queued = true;
    loop._scheduleReady(this);
  }

  /** In a loop iteration: run the reader and/or the writer the report was for. */
  _run(): void {
    this._queued = false;
    if (this._closed) return;
    const events = this._events;
    this._events = 0;
    if (this._paused) {
      // Reported while the loop was stopped: poll afresh rather than trust a stale report.
      this._paused = false;
      this.update();
      return;
    }
    const native = addon();
    const readable = (events & (native.UV_READABLE | native.UV_DISCONNECT)) !== 0;
    const writable = (events & native.UV_WRITABLE) !== 0;
    if (readable) runOrDrop(this.reader, this, "reader");
    if (writable) runOrDrop(this.writer, this, "writer");
    // A report for a side nobody waits on any more: stop polling for it now.
    if (!this._closed && ((readable && this.reader === null) || (writable && this.writer === null))) {
      const wanted = this._mask();
      if (wanted !== this._polling) this._poll(wanted);
    }
  }

  toString(): string {
    return `<FdEntry fd=${this.fd} reader=${this.reader} writer=${this.writer}>`;
  }
}

/** Runs a ready handle; a cancelled one is unregistered instead (CPython's `_process_events`). */
function runOrDrop(handle: Handle | null, entry: FdEntry, side: "reader" | "writer"): void {
  if (handle === null) return;
  if (handle._cancelled) {
    const watch = FdWatch.of(entry.loop);
    if (side === "reader") watch.removeReader(entry.fd);
    else watch.removeWriter(entry.fd);
    return;
  }
  handle._run();
}

const byLoop = new WeakMap<BaseEventLoop, FdWatch>();

/** A loop's watched descriptors (CPython keeps them in the loop's selector). */
export class FdWatch {
  private readonly _entries = new Map<number, FdEntry>();

  private constructor(private readonly _loop: BaseEventLoop) {}

  /** The registry of `loop`, made on first use. */
  static of(loop: BaseEventLoop): FdWatch {
    let watch = byLoop.get(loop);
    if (watch === undefined) {
      watch = new FdWatch(loop);
      byLoop.set(loop, watch);
    }
    return watch;
  }

  /** Releases the watchers of a closing loop, if it ever had any. */
  static closeFor(loop: BaseEventLoop): void {
    byLoop.get(loop)?.closeAll();
    byLoop.delete(loop);
  }

  /**
   * Watches `fd` for reading; returns the handle (CPython's `_add_reader`).
   * `prefetch`, if given, runs as soon as the descriptor is reported
   * readable, in the poll phase, before the loop iteration that runs the
   * reader: a native transport receives ahead there (with the others, in
   * `afterReports`), so that one poll's receives all happen before its
   * protocols' replies are sent (see `SelectorSocketTransport._prefetch`).
   */
  addReader(fd: number, callback: Callback<unknown[]>, args: unknown[], keep = false, prefetch?: () => void): Handle {
    return this._add(fd, callback, args, "reader", keep, prefetch ?? null);
  }

  /** Watches `fd` for writing; `keep`: the descriptor is a `socket.Socket`'s (see `FdEntry.keep`). */
  addWriter(fd: number, callback: Callback<unknown[]>, args: unknown[], keep = false): Handle {
    return this._add(fd, callback, args, "writer", keep, null);
  }

  /** Stops watching `fd` for reading; true if it was watched. */
  removeReader(fd: number): boolean {
    return this._remove(fd, "reader");
  }

  removeWriter(fd: number): boolean {
    return this._remove(fd, "writer");
  }

  /** The number of descriptors watched (for tests and reprs). */
  get size(): number {
    return this._entries.size;
  }

  /** Releases every watcher (loop close); the descriptors stay open, as in CPython. */
  closeAll(): void {
    for (const entry of this._entries.values()) {
      entry.reader?.cancel();
      entry.writer?.cancel();
      entry.close();
      watchedFds.delete(entry.fd);
    }
    this._entries.clear();
  }

  private _add(
    fd: number,
    callback: Callback<unknown[]>,
    args: unknown[],
    side: "reader" | "writer",
    keep: boolean,
    prefetch: (() => void) | null,
  ): Handle {
    if (this._loop.isClosed()) throw new RuntimeError("Event loop is closed");
    const handle = new Handle(callback, args.length === 0 ? null : args, this._loop);
    const entry = this._entry(fd);
    if (keep) entry.keep = true;
    const previous = entry[side];
    entry[side] = handle;
    try {
      entry.update();
    } catch (error) {
      entry[side] = previous;
      if (entry.reader === null && entry.writer === null && !entry.keep) this._drop(entry);
      throw error;
    }
    if (side === "reader") entry.prefetch = prefetch;
    previous?.cancel();
    return handle;
  }

  private _remove(fd: number, side: "reader" | "writer"): boolean {
    if (this._loop.isClosed()) return false;
    const entry = this._entries.get(fd);
    if (entry === undefined) return false;
    const handle = entry[side];
    entry[side] = null;
    if (side === "reader") entry.prefetch = null;
    if (entry.reader === null && entry.writer === null && !entry.keep) this._drop(entry);
    else entry.update();
    if (handle === null) return false;
    handle.cancel();
    return true;
  }

  private _entry(fd: number): FdEntry {
    const existing = this._entries.get(fd);
    if (existing !== undefined) return existing;
    const other = watchedFds.get(fd);
    if (other !== undefined) {
      throw new RuntimeError(
        `File descriptor ${fd} is already watched by another event loop (${other.loop}); remove it there first`,
      );
    }
    const entry = new FdEntry(fd, this._loop);
    this._entries.set(fd, entry);
    watchedFds.set(fd, entry);
    return entry;
  }

  /** Drops the entry of a descriptor that is being closed, whatever it waits for. */
  _release(entry: FdEntry): void {
    entry.reader?.cancel();
    entry.writer?.cancel();
    this._drop(entry);
  }

  private _drop(entry: FdEntry): void {
    entry.close();
    this._entries.delete(entry.fd);
    watchedFds.delete(entry.fd);
  }
}

/**
 * The descriptor `fd` is about to be closed or given away (`Socket.close()`,
 * `Socket.detach()`): release its watcher, in whichever loop holds it, so
 * that no watcher outlives its descriptor (a new descriptor may reuse the
 * number).
 */
export function releaseDescriptor(fd: number): void {
  const entry = watchedFds.get(fd);
  if (entry !== undefined) FdWatch.of(entry.loop)._release(entry);
}
