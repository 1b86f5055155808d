/**
 * Streams (Python's `asyncio.streams`): `StreamReader` (a buffer of bytes
 * with coroutines that read from it), `StreamWriter` (a transport with
 * `drain()` for flow control), `StreamReaderProtocol` (the protocol that
 * feeds a reader from a transport), and the functions that open them over
 * TCP and Unix sockets (`openConnection`, `startServer`,
 * `openUnixConnection`, `startUnixServer`).
 *
 * The reader's `limit` (64 KiB by default) bounds both the length of a line
 * (`readuntil`) and memory: once more than twice the limit is buffered the
 * transport is paused, and it is resumed when reading brings the buffer back
 * under the limit. Every read method is a coroutine object usable with
 * `await` and `yield*`; it completes without suspending when the buffer
 * already holds what it needs.
 */
import { Coro, isCoroutine, isCoroutineFunction } from "./coroutines.js";
import type {
  AbstractEventLoop,
  AbstractServer,
  CreateConnectionOptions,
  CreateServerOptions,
  CreateUnixConnectionOptions,
  CreateUnixServerOptions,
  StartTlsOptions,
} from "./events.js";
import { _getRunningLoop, getEventLoop, getRunningLoop } from "./events.js";
import {
  ConnectionResetError,
  IncompleteReadError,
  LimitOverrunError,
  NotImplementedError,
  RuntimeError,
  ValueError,
} from "./exceptions.js";
import type { Awaitable, Coroutine, Future } from "./futures.js";
import { logger } from "./log.js";
import type { SSLContext } from "./node/ssl.js";
import { Protocol } from "./protocols.js";
import { ReadableTransport, WritableTransport } from "./stream_adapters.js";
import { ensureFuture, sleep } from "./tasks.js";
import type { BaseTransport, ReadTransport, Transport, WriteTransport } from "./transports.js";
import type { RetryOps, WouldWait } from "./waiters.js";
import { FastPathCoro, RetryCoro, WOULD_WAIT } from "./waiters.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** The default `limit` of a `StreamReader`: 64 KiB. */
export const DEFAULT_LIMIT = 2 ** 16;

const EMPTY: Buffer = Buffer.alloc(0);
const NEWLINE: Buffer = Buffer.from("\n");
const NEWLINE_ONLY: Uint8Array[] = [NEWLINE];

/** Options of `new StreamReader(limit, options)`. */
export interface StreamReaderOptions {
  /** The loop whose futures the reader waits on; by default the running loop when it first waits. */
  loop?: AbstractEventLoop;
}

/** What `readuntil` accepts: one separator, or several (the match that ends first wins). */
export type Separator = Uint8Array | readonly Uint8Array[];

function checkCount(name: string, n: number): void {
  if (typeof n !== "number" || !Number.isInteger(n)) {
    throw new TypeError(`${name}() needs an integer byte count, not ${typeof n === "number" ? n : typeof n}`);
  }
}

/** The separators of `readuntil`, shortest first (so that the shortest match wins a tie, as in CPython). */
function separatorList(separator: Separator): Uint8Array[] {
  const list = separator instanceof Uint8Array ? [separator] : Array.isArray(separator) ? [...separator] : null;
  if (list === null || list.some((sep) => !(sep instanceof Uint8Array))) {
    throw new TypeError(
      `readuntil() separator must be a Uint8Array (bytes) or an array of them, not ${typeof separator}: use Buffer.from("...")`,
    );
  }
  if (list.length === 0) throw new ValueError("Separator should contain at least one element");
  list.sort((a, b) => a.length - b.length);
  if ((list[0] as Uint8Array).length === 0) throw new ValueError("Separator should be at least one-byte string");
  return list;
}

/**
 * A buffer of received bytes for a protocol to feed and coroutines to read
 * (Python's `asyncio.StreamReader`). Only one coroutine may wait for data
 * at a time.
 *
 * @example
 * const [reader, writer] = await asyncio.openConnection("127.0.0.1", 8888);
 * for await (const line of reader) console.log(line.toString());
 */
export class StreamReader implements AsyncIterable<Buffer> {
  private readonly _limit: number;
  private _loop: AbstractEventLoop | null;
  /**
   * The buffered bytes are `_storage[_start, _end)`. Bytes are written only
   * at or after `_end`, and only when `_ownsStorage` (the storage was
   * allocated here, not adopted from a transport); growing allocates a new
   * storage. So a `Buffer` returned by a read, which may be a view of the
   * storage, is never overwritten.
   */
  private _storage: Buffer = EMPTY;
  private _start = 0;
  private _end = 0;
  private _ownsStorage = false;
  /** Whether `feedEof()` was called. */
  private _eof = false;
  /** The future a read waits on; at most one. */
  private _waiter: Future<void> | null = null;
  private _exception: unknown = null;
  _transport: ReadTransport | null = null;
  /** Invariant: true exactly while this reader has paused `_transport` (and not resumed it). */
  private _paused = false;

  /** A reader whose lines may be at most `limit` bytes (default 64 KiB). */
  constructor(limit: number = DEFAULT_LIMIT, options: StreamReaderOptions = {}) {
    if (typeof limit !== "number" || Number.isNaN(limit)) throw new TypeError(`limit must be a number, not ${typeof limit}`);
    if (limit <= 0) throw new ValueError(`Limit cannot be <= 0: ${limit}`);
    this._limit = limit;
    this._loop = options.loop ?? null;
  }

  /**
   * A reader fed from a Node `Readable` stream (a file, `process.stdin`, an
   * HTTP body...): the stream is paused while the reader holds more than
   * twice its limit; its end is the reader's end of file, its error the
   * reader's exception.
   */
  static fromReadable(readable: NodeJS.ReadableStream, options: { limit?: number } = {}): StreamReader {
    const loop = getEventLoop();
    const reader = new StreamReader(options.limit ?? DEFAULT_LIMIT, { loop });
    const protocol = new StreamReaderProtocol(reader, null, { loop });
    protocol.connectionMade(new ReadableTransport(readable, protocol, loop));
    return reader;
  }

  /** The line-length limit, in bytes. */
  get limit(): number {
    return this._limit;
  }

  /** The exception set by `setException()` (the connection's error), or `null`. */
  exception(): unknown {
    return this._exception;
  }

  /** Makes every read raise `exc` (wakes a waiting read with it). */
  setException(exc: unknown): void {
    this._exception = exc;
    const waiter = this._waiter;
    if (waiter !== null) {
      this._waiter = null;
      if (!waiter.cancelled()) waiter.setException(exc);
    }
  }

  /** Sets the transport to pause and resume; once only. */
  setTransport(transport: ReadTransport): void {
    if (this._transport !== null) throw new RuntimeError(`Transport already set on ${this}`);
    this._transport = transport;
  }

  /** Marks the end of the data: reads return what is left, then empty buffers. */
  feedEof(): void {
    this._eof = true;
    this._wakeupWaiter();
  }

  /** Whether the buffer is empty and `feedEof()` was called. */
  atEof(): boolean {
    return this._eof && this._end === this._start;
  }

  /** Appends `data` (copied) to the buffer and wakes a waiting read. */
  feedData(data: Uint8Array): void {
    this._feed(data, false);
  }

  /**
   * Appends `data`; `owned` says the caller gives the buffer away (a
   * transport's chunk), so it may be kept without a copy.
   */
  _feed(data: Uint8Array, owned: boolean): void {
    if (this._eof) throw new RuntimeError(`feedData() after feedEof() on ${this}`);
    if (!(data instanceof Uint8Array)) throw new TypeError(`feedData() needs a Uint8Array, not ${typeof data}`);
    if (data.length === 0) return;
    this._append(data, owned);
    this._wakeupWaiter();
    if (this._transport !== null && !this._paused && this._end - this._start > 2 * this._limit) {
      try {
        this._transport.pauseReading();
        this._paused = true;
      } catch (error) {
        // A transport that cannot pause: everything has to be buffered (CPython forgets it too).
        if (!(error instanceof NotImplementedError)) throw error;
        this._transport = null;
      }
    }
  }

  /** The number of bytes buffered. */
  get _size(): number {
    return this._end - this._start;
  }

  private _append(data: Uint8Array, owned: boolean): void {
    const n = data.length;
    if (this._end === this._start && owned && Buffer.isBuffer(data)) {
      this._storage = data;
      this._start = 0;
      this._end = n;
      this._ownsStorage = false;
      return;
    }
    if (!this._ownsStorage || this._end + n > this._storage.length) {
      const live = this._end - this._start;
      const next = Buffer.allocUnsafeSlow(Math.max(live + n, 2 * live, 1024));
      this._storage.copy(next, 0, this._start, this._end);
      this._storage = next;
      this._start = 0;
      this._end = live;
      this._ownsStorage = true;
    }
    this._storage.set(data, this._end);
    this._end += n;
  }

  /**
   * Removes and returns the first `n` bytes. A large result is a view of
   * the storage (never written again, see `_storage`); a small one is
   * copied, so that it does not keep a large storage alive.
   */
  private _take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const storage = this._storage;
    const begin = this._start;
    this._start += n;
    if (this._start === this._end) {
      this._storage = EMPTY;
      this._start = this._end = 0;
      this._ownsStorage = false;
    }
    // The whole storage (a transport's chunk, adopted): hand it out as it is.
    if (begin === 0 && n === storage.length) return storage;
    const view = storage.subarray(begin, begin + n);
    return 2 * n < storage.length ? Buffer.from(view) : view;
  }

  private _wakeupWaiter(): void {
    const waiter = this._waiter;
    if (waiter !== null) {
      this._waiter = null;
      if (!waiter.cancelled()) waiter.setResult(undefined);
    }
  }

  private _maybeResumeTransport(): void {
    if (this._paused && this._end - this._start <= this._limit) {
      this._paused = false;
      (this._transport as ReadTransport).resumeReading();
    }
  }

  private _getLoop(): AbstractEventLoop {
    this._loop ??= getRunningLoop();
    return this._loop;
  }

  /**
   * Waits until `feedData()` or `feedEof()` is called, resuming a paused
   * transport first (waiting while paused would deadlock, for example in
   * `readexactly(n)` with `n` above twice the limit).
   */
  private *_waitForData(funcName: string): Coroutine<void> {
    const waiter = this._startWait(funcName);
    try {
      yield* waiter;
    } finally {
      this._waiter = null;
    }
  }

  /** The first half of `_waitForData`: the future that `feedData()` or `feedEof()` completes. */
  _startWait(funcName: string): Future<void> {
    if (this._waiter !== null) {
      throw new RuntimeError(`${funcName}() called while another coroutine is already waiting for incoming data`);
    }
    if (this._paused) {
      this._paused = false;
      (this._transport as ReadTransport).resumeReading();
    }
    const waiter = this._getLoop().createFuture<void>();
    this._waiter = waiter;
    return waiter;
  }

  /** The second half of `_waitForData`: the wait ended, however it ended. */
  _endWait(): void {
    this._waiter = null;
  }

  private _throwIfFailed(): void {
    if (this._exception !== null) throw this._exception;
  }

  /**
   * Reads up to `n` bytes: as soon as at least one byte is buffered, returns
   * what is there (at most `n`). `n = -1` (the default) reads until end of
   * file; `n = 0` returns an empty buffer at once. At end of file, returns
   * an empty buffer.
   */
  read(n = -1): Coro<Buffer> {
    if (typeof n === "number" && n >= 0) return new RetryCoro(READ, this, n);
    return new FastPathCoro(StreamReader._startRead, "StreamReader.read", StreamReader._readNow, this, n);
  }

  private static readonly _startRead = (reader: StreamReader, n: number): Coroutine<Buffer> => reader._read(n);
  private static readonly _readNow = (reader: StreamReader, n: number): Buffer | WouldWait => reader._readNow(n);

  _readNow(n: number): Buffer | WouldWait {
    checkCount("read", n);
    this._throwIfFailed();
    if (n === 0) return EMPTY;
    if (n < 0) return this._eof ? this._take(this._size) : WOULD_WAIT;
    if (this._end === this._start && !this._eof) return WOULD_WAIT;
    const data = this._take(Math.min(n, this._size));
    this._maybeResumeTransport();
    return data;
  }

  private *_read(n: number): Coroutine<Buffer> {
    if (n < 0) {
      const now = this._readNow(n);
      return now === WOULD_WAIT ? yield* this._readToEof() : now;
    }
    for (;;) {
      const now = this._readNow(n);
      if (now !== WOULD_WAIT) return now;
      yield* this._waitForData("read");
    }
  }

  /** `read(-1)`: blocks of at most `limit` bytes until end of file (one big wait could never end while paused). */
  private *_readToEof(): Coroutine<Buffer> {
    const blocks: Buffer[] = [];
    for (;;) {
      const block = yield* this._read(this._limit);
      if (block.length === 0) break;
      blocks.push(block);
    }
    return blocks.length === 1 ? (blocks[0] as Buffer) : Buffer.concat(blocks);
  }

  /**
   * Reads one line, up to and including `\n`. At end of file returns what
   * is left (without a newline), then empty buffers. A line longer than the
   * limit raises `ValueError` and is discarded (up to its newline if it was
   * found, else the whole buffer).
   */
  readline(): Coro<Buffer> {
    return new FastPathCoro(StreamReader._startReadline, "StreamReader.readline", StreamReader._readlineNow, this);
  }

  private static readonly _startReadline = (reader: StreamReader): Coroutine<Buffer> => reader._readline();
  private static readonly _readlineNow = (reader: StreamReader): Buffer | WouldWait => {
    try {
      return reader._readuntilNow(NEWLINE_ONLY);
    } catch (error) {
      return reader._readlineFailed(error);
    }
  };

  private *_readline(): Coroutine<Buffer> {
    try {
      return yield* this._readuntil(NEWLINE_ONLY);
    } catch (error) {
      return this._readlineFailed(error);
    }
  }

  private _readlineFailed(error: unknown): Buffer {
    if (error instanceof IncompleteReadError) return error.partial as Buffer;
    if (!(error instanceof LimitOverrunError)) throw error;
    const newlineAt = this._storage[this._start + error.consumed] === 0x0a && error.consumed < this._size;
    this._take(newlineAt ? error.consumed + 1 : this._size);
    this._maybeResumeTransport();
    throw new ValueError(error.message, { cause: error });
  }

  /**
   * Reads until `separator` (or, given an array, whichever of them ends
   * first) and returns the data with the separator. At end of file without
   * a separator: `IncompleteReadError` holding what was left (the buffer is
   * emptied). Data longer than the limit: `LimitOverrunError`, whose
   * `consumed` says how many bytes to read to get past it; the data stays
   * in the buffer.
   */
  readuntil(separator: Separator = NEWLINE): Coro<Buffer> {
    return new FastPathCoro(
      StreamReader._startReaduntil,
      "StreamReader.readuntil",
      StreamReader._readuntilNowOf,
      this,
      separator,
    );
  }

  private static readonly _startReaduntil = (reader: StreamReader, sep: Separator): Coroutine<Buffer> =>
    reader._readuntil(separatorList(sep));
  private static readonly _readuntilNowOf = (reader: StreamReader, sep: Separator): Buffer | WouldWait =>
    reader._readuntilNow(separatorList(sep));

  /** One look at the buffer for `readuntil`; `WOULD_WAIT` when more data is needed. */
  private _readuntilNow(separators: Uint8Array[]): Buffer | WouldWait {
    this._throwIfFailed();
    const found = this._findSeparator(separators, 0);
    if (typeof found !== "number") return this._takeMatch(found);
    if (this._eof) throw new IncompleteReadError(this._take(this._size), null);
    return WOULD_WAIT;
  }

  /** Removes and returns the data up to the end of the separator found at `[start, end]`. */
  private _takeMatch([start, end]: [number, number]): Buffer {
    if (start > this._limit) throw new LimitOverrunError("Separator is found, but chunk is longer than limit", start);
    const chunk = this._take(end);
    this._maybeResumeTransport();
    return chunk;
  }

  /**
   * `[start, end]` of the separator match that ends first, or (when none
   * is found) the offset below which no match can start, for the next look.
   */
  private _findSeparator(separators: Uint8Array[], offset: number): [number, number] | number {
    const view = this._storage.subarray(this._start, this._end);
    const minLength = (separators[0] as Uint8Array).length;
    const maxLength = (separators[separators.length - 1] as Uint8Array).length;
    if (view.length - offset < minLength) return offset;
    let matchStart = -1;
    let matchEnd = -1;
    for (const sep of separators) {
      const at = view.indexOf(sep, offset);
      if (at !== -1 && (matchEnd === -1 || at + sep.length < matchEnd)) {
        matchStart = at;
        matchEnd = at + sep.length;
      }
    }
    if (matchEnd !== -1) return [matchStart, matchEnd];
    const next = Math.max(0, view.length + 1 - maxLength);
    if (next > this._limit) throw new LimitOverrunError("Separator is not found, and chunk exceed the limit", next);
    return next;
  }

  private *_readuntil(separators: Uint8Array[]): Coroutine<Buffer> {
    // `offset`: no match starts before it; it only moves forward as data arrives.
    let offset = 0;
    for (;;) {
      this._throwIfFailed();
      const found = this._findSeparator(separators, offset);
      if (typeof found !== "number") return this._takeMatch(found);
      offset = found;
      if (this._eof) throw new IncompleteReadError(this._take(this._size), null);
      yield* this._waitForData("readuntil");
    }
  }

  /**
   * Reads exactly `n` bytes; `IncompleteReadError` (with what was read as
   * `partial`, and `expected = n`) if the end of file comes first.
   */
  readexactly(n: number): Coro<Buffer> {
    return new RetryCoro(READEXACTLY, this, n);
  }

  _readexactlyNow(n: number): Buffer | WouldWait {
    checkCount("readexactly", n);
    if (n < 0) throw new ValueError(`readexactly size can not be less than zero: ${n}`);
    this._throwIfFailed();
    if (n === 0) return EMPTY;
    if (this._size < n) {
      if (!this._eof) return WOULD_WAIT;
      throw new IncompleteReadError(this._take(this._size), n);
    }
    const data = this._take(n);
    this._maybeResumeTransport();
    return data;
  }

  /** `for await (const line of reader)`: each line (`readline()`) until end of file. */
  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    const reader = this;
    return {
      next(): Promise<IteratorResult<Buffer>> {
        // Coro.then returns a Promise; called here, in the caller's task.
        return reader
          .readline()
          .then(
            (line): IteratorResult<Buffer> =>
              line.length === 0 ? { done: true, value: undefined } : { done: false, value: line },
          ) as Promise<IteratorResult<Buffer>>;
      },
    };
  }

  toString(): string {
    const info = ["StreamReader"];
    if (this._size > 0) info.push(`${this._size} bytes`);
    if (this._eof) info.push("eof");
    if (this._limit !== DEFAULT_LIMIT) info.push(`limit=${this._limit}`);
    if (this._waiter !== null) info.push(`waiter=${this._waiter}`);
    if (this._exception !== null) info.push(`exception=${String(this._exception)}`);
    if (this._transport !== null) info.push(`transport=${this._transport}`);
    if (this._paused) info.push("paused");
    return `<${info.join(" ")}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/**
 * `read(n)` with `n >= 0` and `readexactly(n)`: look at the buffer, else
 * wait for data and look again (the loops of `_read` and `_readexactly` in
 * CPython), as `RetryCoro`s: no generator objects on the path every
 * request of a stream server takes.
 */
const READ: RetryOps<Buffer, StreamReader, number> = {
  name: "StreamReader.read",
  tryNow: (reader, n) => reader._readNow(n),
  startWait: (reader) => reader._startWait("read"),
  endWait: (reader) => reader._endWait(),
};

const READEXACTLY: RetryOps<Buffer, StreamReader, number> = {
  name: "StreamReader.readexactly",
  tryNow: (reader, n) => reader._readexactlyNow(n),
  startWait: (reader) => reader._startWait("readexactly"),
  endWait: (reader) => reader._endWait(),
};

/**
 * Flow control for `StreamWriter.drain()` (CPython's `FlowControlMixin`):
 * the protocol remembers whether the transport asked it to pause writing,
 * and wakes the drains waiting for `resumeWriting()` or `connectionLost()`.
 */
export class FlowControlProtocol extends Protocol {
  protected readonly _loop: AbstractEventLoop;
  /** Invariant: true between the transport's `pauseWriting()` and `resumeWriting()`. */
  _paused = false;
  private readonly _drainWaiters = new Set<Future<void>>();
  _connectionLost = false;

  constructor(loop?: AbstractEventLoop) {
    super();
    this._loop = loop ?? getEventLoop();
  }

  override pauseWriting(): void {
    if (this._paused) throw new RuntimeError(`pauseWriting() while already paused: ${this}`);
    this._paused = true;
    if (this._loop.getDebug()) logger.debug(`${this} pauses writing`);
  }

  override resumeWriting(): void {
    if (!this._paused) throw new RuntimeError(`resumeWriting() while not paused: ${this}`);
    this._paused = false;
    if (this._loop.getDebug()) logger.debug(`${this} resumes writing`);
    for (const waiter of this._drainWaiters) if (!waiter.done()) waiter.setResult(undefined);
  }

  override connectionLost(exc: Error | null): void {
    this._connectionLost = true;
    if (!this._paused) return;
    for (const waiter of this._drainWaiters) {
      if (waiter.done()) continue;
      if (exc === null) waiter.setResult(undefined);
      else waiter.setException(exc);
    }
  }

  /** Whether `drain()` can return without waiting. */
  _drainReady(): boolean {
    return !this._connectionLost && !this._paused;
  }

  /** Waits while writing is paused; `ConnectionResetError` once the connection is lost. */
  *_drainHelper(): Coroutine<void> {
    if (this._connectionLost) throw new ConnectionResetError(undefined, "Connection lost");
    if (!this._paused) return;
    const waiter = this._loop.createFuture<void>();
    this._drainWaiters.add(waiter);
    try {
      yield* waiter;
    } finally {
      this._drainWaiters.delete(waiter);
    }
  }

  /** The future `StreamWriter.waitClosed()` waits on for `stream`. */
  _getCloseWaiter(_stream: StreamWriter): Future<void> {
    throw new NotImplementedError(`${this.constructor.name} has no close waiter`);
  }

  override toString(): string {
    return `<${this.constructor.name}${this._paused ? " paused" : ""}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/**
 * What `startServer` calls for each client: `(reader, writer)`. A plain
 * function, an async function (run as a task), a generator function (its
 * coroutine run as a task), or a function returning a coroutine.
 */
export type ClientConnectedCallback = (reader: StreamReader, writer: StreamWriter) => unknown;

/**
 * The protocol between a transport and a `StreamReader` (Python's
 * `asyncio.StreamReaderProtocol`): data and end of file go to the reader,
 * the connection's loss to the reader and to `StreamWriter.waitClosed()`.
 * Given a `clientConnected` callback, it makes the `StreamWriter` and calls
 * the callback when the connection is made (what `startServer` does).
 */
export class StreamReaderProtocol extends FlowControlProtocol {
  private _streamReader: StreamReader | null;
  /** The writer made for the client callback, and its task: held while connected, as CPython does. */
  _streamWriter: StreamWriter | null = null;
  _clientConnectedCb: ClientConnectedCallback | null;
  _task: Future<unknown> | null = null;
  _transport: Transport | null = null;
  private _overSsl = false;
  private readonly _closed: Future<void>;

  constructor(
    streamReader: StreamReader | null,
    clientConnectedCb: ClientConnectedCallback | null = null,
    options: { loop?: AbstractEventLoop } = {},
  ) {
    super(options.loop ?? _getRunningLoop() ?? getEventLoop());
    this._streamReader = streamReader;
    this._clientConnectedCb = clientConnectedCb;
    this._closed = this._loop.createFuture<void>();
  }

  /** After `startTls`: the writer's new transport is the connection from now on. */
  _replaceTransport(transport: Transport): void {
    this._transport = transport;
    this._overSsl = transport.getExtraInfo("sslcontext") !== null;
    const reader = this._streamReader;
    if (reader !== null) reader._transport = transport;
  }

  override connectionMade(transport: BaseTransport): void {
    const stream = transport as Transport;
    this._transport = stream;
    const reader = this._streamReader;
    if (reader !== null) reader.setTransport(stream);
    this._overSsl = stream.getExtraInfo("sslcontext") !== null;
    const callback = this._clientConnectedCb;
    if (callback === null) return;
    const writer = new StreamWriter(stream, this, reader, this._loop);
    this._streamWriter = writer;
    const task = this._startClient(callback, reader as StreamReader, writer);
    if (task !== null) {
      this._task = task;
      task.addDoneCallback((done) => this._clientDone(done, stream));
    }
  }

  /** Runs the client callback; a coroutine or a Promise it makes becomes a future to watch. */
  private _startClient(callback: ClientConnectedCallback, reader: StreamReader, writer: StreamWriter): Future<unknown> | null {
    if (isCoroutineFunction(callback)) return this._loop.createTask(() => callback(reader, writer) as Coroutine<unknown>);
    const result = callback(reader, writer);
    if (isCoroutine(result)) return this._loop.createTask(result as Coroutine<unknown>);
    if (typeof (result as PromiseLike<unknown> | null)?.then === "function") {
      return ensureFuture(result as PromiseLike<unknown>, { loop: this._loop });
    }
    return null;
  }

  /** CPython 3.12+: a client coroutine that fails is reported and its connection closed. */
  private _clientDone(task: Future<unknown>, transport: Transport): void {
    if (task.cancelled()) {
      transport.close();
      return;
    }
    const exc = task.exception();
    if (exc !== null) {
      this._loop.callExceptionHandler({
        message: "Unhandled exception in client_connected_cb",
        exception: exc,
        transport,
      });
      transport.close();
    }
  }

  override connectionLost(exc: Error | null): void {
    const reader = this._streamReader;
    if (reader !== null) {
      if (exc === null) reader.feedEof();
      else reader.setException(exc);
    }
    if (!this._closed.done()) {
      if (exc === null) this._closed.setResult(undefined);
      else {
        this._closed.setException(exc);
        this._closed.exception(); // retrieved: nobody has to call waitClosed() (CPython's __del__ does this)
      }
    }
    super.connectionLost(exc);
    this._streamReader = null;
    this._streamWriter = null;
    this._task = null;
    this._transport = null;
  }

  override dataReceived(data: Buffer): void {
    this._streamReader?._feed(data, true);
  }

  override eofReceived(): boolean {
    this._streamReader?.feedEof();
    // Over TLS, returning true has no effect (and the TLS layer warns about it).
    return !this._overSsl;
  }

  override _getCloseWaiter(_stream: StreamWriter): Future<void> {
    return this._closed;
  }
}

/**
 * A transport with flow control for writers (Python's
 * `asyncio.StreamWriter`): `write()` buffers, `await writer.drain()` waits
 * while the transport's buffer is over its high-water mark.
 *
 * @example
 * writer.write(data);
 * await writer.drain();
 * writer.close();
 * await writer.waitClosed();
 */
export class StreamWriter {
  private _transport: WriteTransport;
  private readonly _protocol: FlowControlProtocol;
  private readonly _reader: StreamReader | null;
  private readonly _loop: AbstractEventLoop;

  constructor(transport: WriteTransport, protocol: FlowControlProtocol, reader: StreamReader | null, loop: AbstractEventLoop) {
    this._transport = transport;
    this._protocol = protocol;
    this._reader = reader;
    this._loop = loop;
  }

  /**
   * A writer over a Node `Writable` stream (a file, `process.stdout`, an
   * HTTP response...): `drain()` waits while the stream's buffer is over
   * its high-water mark (64 KiB, or `options.high`), `writeEof()` ends it,
   * `waitClosed()` waits until it is finished (raising its error if it
   * failed).
   */
  static fromWritable(writable: NodeJS.WritableStream, options: { high?: number; low?: number } = {}): StreamWriter {
    const loop = getEventLoop();
    const protocol = new StreamReaderProtocol(null, null, { loop });
    const transport = new WritableTransport(writable, protocol, loop);
    transport.setWriteBufferLimits(options);
    protocol.connectionMade(transport);
    return new StreamWriter(transport, protocol, null, loop);
  }

  /** The transport the writer writes to. */
  get transport(): WriteTransport {
    return this._transport;
  }

  /** Writes `data` to the transport (buffered; follow with `drain()`). */
  write(data: Uint8Array): void {
    this._transport.write(data);
  }

  /** Writes each chunk in turn. */
  writelines(data: Iterable<Uint8Array>): void {
    this._transport.writelines(data);
  }

  /** Closes the writing side after the buffered data is sent (half-close). */
  writeEof(): void {
    this._transport.writeEof();
  }

  /** Whether the transport supports `writeEof()`. */
  canWriteEof(): boolean {
    return this._transport.canWriteEof();
  }

  /** Closes the transport (buffered data is still sent); follow with `waitClosed()`. */
  close(): void {
    this._transport.close();
  }

  /** Whether the transport is closing or closed. */
  isClosing(): boolean {
    return this._transport.isClosing();
  }

  /** Waits until the connection is closed; raises the error that ended it, if any. */
  waitClosed(): Awaitable<void> {
    return this._protocol._getCloseWaiter(this);
  }

  /** The transport's extra information (`peername`, `sockname`, `socket`, ...). */
  getExtraInfo<T = unknown>(name: string, defaultValue: T | null = null): T | null {
    return this._transport.getExtraInfo<T>(name, defaultValue);
  }

  /**
   * Waits until the transport's write buffer is below its high-water mark
   * (at once when it is). Raises the connection's error once it is lost
   * (`ConnectionResetError` if it was closed without one).
   */
  drain(): Coro<void> {
    return new FastPathCoro(StreamWriter._startDrain, "StreamWriter.drain", StreamWriter._drainNow, this);
  }

  private static readonly _startDrain = (writer: StreamWriter): Coroutine<void> => writer._drain();
  private static readonly _drainNow = (writer: StreamWriter): undefined | WouldWait => {
    writer._throwIfReaderFailed();
    return writer._protocol._drainReady() && !writer._transport.isClosing() ? undefined : WOULD_WAIT;
  };

  private _throwIfReaderFailed(): void {
    const exc = this._reader?.exception() ?? null;
    if (exc !== null) throw exc;
  }

  private *_drain(): Coroutine<void> {
    this._throwIfReaderFailed();
    // A closing transport: let connectionLost() run first, so that a write/drain loop sees the error.
    if (this._transport.isClosing()) yield* sleep(0);
    yield* this._protocol._drainHelper();
  }

  /**
   * Upgrades the connection to TLS (`loop.startTls`): the writer and its
   * reader use the TLS transport from now on. Server side when the stream
   * was made by `startServer`.
   */
  startTls(sslcontext: SSLContext, options: Omit<StartTlsOptions, "serverSide"> = {}): Coro<void> {
    return new Coro(() => this._startTls(sslcontext, options), "StreamWriter.startTls");
  }

  private *_startTls(sslcontext: SSLContext, options: Omit<StartTlsOptions, "serverSide">): Coroutine<void> {
    const protocol = this._protocol;
    if (!(protocol instanceof StreamReaderProtocol)) {
      throw new RuntimeError(`startTls() needs a StreamWriter made with a StreamReaderProtocol, not ${protocol}`);
    }
    yield* this.drain();
    const transport = yield* this._loop.startTls(this._transport as Transport, protocol, sslcontext, {
      ...options,
      serverSide: protocol._clientConnectedCb !== null,
    });
    this._transport = transport;
    protocol._replaceTransport(transport);
  }

  toString(): string {
    const reader = this._reader === null ? "" : ` reader=${this._reader}`;
    return `<StreamWriter transport=${this._transport}${reader}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/** Options of `openConnection`: `createConnection`'s, and the reader's `limit`. */
export interface OpenConnectionOptions extends Omit<CreateConnectionOptions, "host" | "port"> {
  limit?: number;
}

/** Options of `startServer`: `createServer`'s, and each reader's `limit`. */
export interface StartServerOptions extends Omit<CreateServerOptions, "host" | "port"> {
  limit?: number;
}

/** Options of `openUnixConnection`: `createUnixConnection`'s, and the reader's `limit`. */
export interface OpenUnixConnectionOptions extends Omit<CreateUnixConnectionOptions, "path"> {
  limit?: number;
}

/** Options of `startUnixServer`: `createUnixServer`'s, and each reader's `limit`. */
export interface StartUnixServerOptions extends Omit<CreateUnixServerOptions, "path"> {
  limit?: number;
}

function splitLimit<O extends { limit?: number }>(options: O): [number, Omit<O, "limit">] {
  const { limit = DEFAULT_LIMIT, ...rest } = options;
  return [limit, rest];
}

/**
 * Opens a TCP connection and returns `[reader, writer]`; the options are
 * `createConnection`'s (`ssl`, `sock`, `localAddr`, ...) and `limit`.
 * Host and port may be `null` with a `sock`.
 *
 * @example
 * const [reader, writer] = await asyncio.openConnection("127.0.0.1", 8888);
 * writer.write(Buffer.from("ping\n"));
 * console.log((await reader.readline()).toString());
 */
export function openConnection(
  host: string | null = null,
  port: number | string | null = null,
  options: OpenConnectionOptions = {},
): Coro<[StreamReader, StreamWriter]> {
  return new Coro(
    () => openStreams(options, (loop, factory, rest) => loop.createConnection(factory, { ...rest, host, port })),
    "openConnection",
  );
}

/** `openConnection` for a Unix socket at `path`. */
export function openUnixConnection(
  path: string | null = null,
  options: OpenUnixConnectionOptions = {},
): Coro<[StreamReader, StreamWriter]> {
  return new Coro(
    () => openStreams(options, (loop, factory, rest) => loop.createUnixConnection(factory, { ...rest, path })),
    "openUnixConnection",
  );
}

type Connect<O> = (
  loop: AbstractEventLoop,
  factory: () => StreamReaderProtocol,
  rest: O,
) => Awaitable<[Transport, StreamReaderProtocol]>;

function* openStreams<O extends { limit?: number }>(
  options: O,
  connect: Connect<Omit<O, "limit">>,
): Coroutine<[StreamReader, StreamWriter]> {
  const loop = getRunningLoop();
  const [limit, rest] = splitLimit(options);
  const reader = new StreamReader(limit, { loop });
  const protocol = new StreamReaderProtocol(reader, null, { loop });
  const [transport] = yield* connect(loop, () => protocol, rest);
  return [reader, new StreamWriter(transport, protocol, reader, loop)];
}

/**
 * Starts a TCP server calling `clientConnected(reader, writer)` for each
 * connection (a plain function, an async function or a generator
 * function; coroutines run as tasks). Resolves to the `Server`.
 *
 * @example
 * const server = await asyncio.startServer(async (reader, writer) => {
 *   writer.write(await reader.read(100));
 *   await writer.drain();
 *   writer.close();
 * }, "127.0.0.1", 8888);
 */
export function startServer(
  clientConnected: ClientConnectedCallback,
  host: string | string[] | null = null,
  port: number | string | null = null,
  options: StartServerOptions = {},
): Coro<AbstractServer> {
  checkCallback(clientConnected);
  return new Coro(
    () => serveStreams(clientConnected, options, (loop, factory, rest) => loop.createServer(factory, { ...rest, host, port })),
    "startServer",
  );
}

/** `startServer` on a Unix socket at `path`. */
export function startUnixServer(
  clientConnected: ClientConnectedCallback,
  path: string | null = null,
  options: StartUnixServerOptions = {},
): Coro<AbstractServer> {
  checkCallback(clientConnected);
  return new Coro(
    () => serveStreams(clientConnected, options, (loop, factory, rest) => loop.createUnixServer(factory, { ...rest, path })),
    "startUnixServer",
  );
}

function checkCallback(callback: unknown): void {
  if (typeof callback !== "function") throw new TypeError(`clientConnected must be a function, not ${typeof callback}`);
}

type Serve<O> = (loop: AbstractEventLoop, factory: () => StreamReaderProtocol, rest: O) => Awaitable<AbstractServer>;

function* serveStreams<O extends { limit?: number }>(
  clientConnected: ClientConnectedCallback,
  options: O,
  serve: Serve<Omit<O, "limit">>,
): Coroutine<AbstractServer> {
  const loop = getRunningLoop();
  const [limit, rest] = splitLimit(options);
  const factory = (): StreamReaderProtocol =>
    new StreamReaderProtocol(new StreamReader(limit, { loop }), clientConnected, { loop });
  return yield* serve(loop, factory, rest);
}
