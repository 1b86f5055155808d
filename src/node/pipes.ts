/**
 * Pipe transports (CPython's `_UnixReadPipeTransport` and
 * `_UnixWritePipeTransport`) over Node streams: `connectReadPipe` and
 * `connectWritePipe` take a file descriptor (a FIFO, a socket or a
 * character device, as CPython requires; wrapped in a `net.Socket`, a
 * `tty` stream or an `fs` stream, and owned from then on: closed with the
 * transport) or any Node stream (`net.Socket`, `fs` streams,
 * `process.stdin`, a child's stdio, a plain `Readable`/`Writable`).
 *
 * Node's stream events never call the protocol directly. A read transport
 * queues what arrives and delivers one chunk per loop callback, so
 * `pauseReading()` takes effect at once and data that arrives while the
 * loop is stopped waits (the stream is paused once a quarter of a
 * megabyte is queued). A write transport hands data to the stream at once
 * (the stream's `writableLength` is the write buffer) and flow control
 * follows the stream's write callbacks.
 *
 * CPython learns that the reader of a write pipe went away by watching the
 * write end for readability. Node offers no such watch on a pipe, so: on a
 * socket (given as a descriptor, or a readable `net.Socket`) the transport
 * reads (anything read or end of file means the peer is gone, as in
 * CPython); on a FIFO the loss shows
 * at the next write, as `BrokenPipeError` in `connectionLost`. The
 * subprocess transport closes a child's stdin transport when the child
 * has exited.
 */
import fs from "node:fs";
import net from "node:net";
import type { Readable, Writable } from "node:stream";
import tty from "node:tty";
import { Coro } from "../coroutines.js";
import type { AbstractEventLoop, PipeLike } from "../events.js";
import { BrokenPipeError, OSError, osErrorFrom, RuntimeError, ValueError } from "../exceptions.js";
import type { Future } from "../futures.js";
import { logger } from "../log.js";
import type { BaseProtocol, Protocol } from "../protocols.js";
import type { BaseTransport, WriteBufferLimits } from "../transports.js";
import { countLostWrite, ReadTransport, WriteTransport } from "../transports.js";
import { WriteFlow } from "./flow_control.js";
import { restoreBufferScavenging } from "./v8_heap.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** Above this many queued bytes a read transport pauses its stream until the loop catches up (CPython's `max_size`). */
const MAX_QUEUED = 256 * 1024;

const EOF = Symbol("eof");
type Queued = Buffer | typeof EOF | { error: Error };

function setResultUnlessCancelled(waiter: Future<void>): void {
  if (!waiter.cancelled()) waiter.setResult(undefined);
}

function isReadable(value: unknown): value is Readable {
  return typeof value === "object" && value !== null && typeof (value as Readable).on === "function" && "read" in value;
}

function isWritable(value: unknown): value is Writable {
  return typeof value === "object" && value !== null && typeof (value as Writable).write === "function";
}

function describe(pipe: PipeLike): string {
  if (typeof pipe === "number") return `fd=${pipe}`;
  const fd = (pipe as { fd?: unknown; _handle?: { fd?: unknown } }).fd ?? (pipe as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? `fd=${fd}` : pipe.constructor.name;
}

/** What a file descriptor is, as CPython checks with `fstat` before making a pipe transport. */
function kindOf(fd: number, message: string): "fifo" | "socket" | "tty" | "char" {
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
  } catch (error) {
    throw osErrorFrom(error, `fd ${fd}`);
  }
  if (stat.isFIFO()) return "fifo";
  if (stat.isSocket()) return "socket";
  if (stat.isCharacterDevice()) return tty.isatty(fd) ? "tty" : "char";
  throw new ValueError(`${message} (fd ${fd} is not one)`);
}

function checkFd(fd: number): void {
  if (!Number.isInteger(fd) || fd < 0) throw new ValueError(`a pipe must be a file descriptor (an integer >= 0), not ${fd}`);
}

/** Opens a stream reading `fd`; the stream owns (and closes) the descriptor. */
export function readStreamForFd(fd: number): Readable {
  checkFd(fd);
  const kind = kindOf(fd, "Pipe transport is for pipes/sockets only.");
  if (kind === "tty") return new tty.ReadStream(fd);
  if (kind === "char") return fs.createReadStream("", { fd, autoClose: true });
  return new net.Socket({ fd, readable: true, writable: kind === "socket", allowHalfOpen: true });
}

/** Opens a stream writing `fd` (and, for a socket, reading it to learn when the peer is gone); it owns `fd`. */
function writeStreamForFd(fd: number): { stream: Writable; watch: boolean } {
  checkFd(fd);
  const kind = kindOf(fd, "Pipe transport is only for pipes, sockets and character devices");
  if (kind === "tty") return { stream: new tty.WriteStream(fd), watch: false };
  if (kind === "char") return { stream: fs.createWriteStream("", { fd, autoClose: true }), watch: false };
  const socket = new net.Socket({ fd, readable: kind === "socket", writable: true, allowHalfOpen: true });
  return { stream: socket, watch: kind === "socket" };
}

/** Lets a stream stop keeping the process alive by itself: the running loop does that. */
function unref(stream: unknown): void {
  const s = stream as { unref?: () => void };
  if (typeof s.unref === "function") s.unref();
}

/**
 * The reading end of a pipe (CPython's `_UnixReadPipeTransport`):
 * `connectionMade`, `dataReceived`*, `eofReceived`, `connectionLost`.
 *
 * Invariants: `_queue` holds what the stream delivered and the protocol
 * has not seen, in order (data, then end of file or the error); the stream
 * is paused exactly when `_paused` or more than `MAX_QUEUED` bytes wait.
 */
export class ReadPipeTransport extends ReadTransport {
  private readonly _loop: AbstractEventLoop;
  private readonly _stream: Readable;
  private _protocol: Protocol;
  private _closing = false;
  private _paused = false;
  private _lost = false;
  private readonly _queue: Queued[] = [];
  private _queuedBytes = 0;
  private _flushScheduled = false;
  private readonly _desc: string;

  /** @internal Made by `connectReadPipe` (and the subprocess transport). */
  constructor(loop: AbstractEventLoop, pipe: PipeLike, stream: Readable, protocol: Protocol, waiter: Future<void> | null) {
    super({ pipe });
    this._loop = loop;
    this._stream = stream;
    this._protocol = protocol;
    this._desc = describe(pipe);
    restoreBufferScavenging();
    // Protocol.connectionMade is typed for stream transports; a read pipe is the ReadTransport half of one.
    loop.callSoon(protocol.connectionMade.bind(protocol) as (t: BaseTransport) => void, this);
    if (waiter !== null) loop.callSoon(setResultUnlessCancelled, waiter);
    stream.on("data", this._onData);
    stream.on("end", this._onEnd);
    stream.on("error", this._onError);
    stream.on("close", this._onClose);
    if (stream.destroyed || stream.readableEnded) this._enqueue(EOF);
    unref(stream);
  }

  private readonly _onData = (chunk: Buffer | string): void => {
    const data = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    this._queuedBytes += data.length;
    this._enqueue(data);
  };
  private readonly _onEnd = (): void => this._enqueue(EOF);
  private readonly _onError = (error: Error): void => this._enqueue({ error: osErrorFrom(error) as Error });
  /** Destroyed without an end or an error (by its owner): as an end of file. */
  private readonly _onClose = (): void => {
    const last = this._queue.at(-1);
    if (!this._closing && last !== EOF && !(typeof last === "object" && "error" in last)) this._enqueue(EOF);
  };

  private _enqueue(item: Queued): void {
    if (this._closing || this._loop.isClosed()) return;
    this._queue.push(item);
    this._updateStream();
    this._scheduleFlush();
  }

  private _scheduleFlush(): void {
    if (this._flushScheduled || this._paused || this._queue.length === 0) return;
    this._flushScheduled = true;
    this._loop.callSoon(this._flush);
  }

  /** Delivers the oldest queued item (one per loop callback, as one read per readiness in CPython). */
  private readonly _flush = (): void => {
    this._flushScheduled = false;
    if (this._closing || this._paused) return;
    const item = this._queue.shift();
    if (item === undefined) return;
    this._scheduleFlush();
    if (item === EOF) this._eof();
    else if (Buffer.isBuffer(item)) {
      this._queuedBytes -= item.length;
      this._updateStream();
      this._protocol.dataReceived(item);
    } else this._fatalError(item.error, "Fatal read error on pipe transport");
  };

  private _eof(): void {
    if (this._loop.getDebug()) logger.info(`${this} was closed by peer`);
    this._closing = true;
    this._loop.callSoon(this._protocol.eofReceived.bind(this._protocol));
    this._loop.callSoon(this._callConnectionLost, null);
  }

  private _updateStream(): void {
    if (this._lost) return;
    if (this._paused || this._queuedBytes > MAX_QUEUED) this._stream.pause();
    else this._stream.resume();
  }

  isReading(): boolean {
    return !this._paused && !this._closing;
  }

  pauseReading(): void {
    if (!this.isReading()) return;
    this._paused = true;
    this._updateStream();
    if (this._loop.getDebug()) logger.debug(`${this} pauses reading`);
  }

  resumeReading(): void {
    if (this._closing || !this._paused) return;
    this._paused = false;
    this._updateStream();
    this._scheduleFlush();
    if (this._loop.getDebug()) logger.debug(`${this} resumes reading`);
  }

  setProtocol(protocol: Protocol): void {
    this._protocol = protocol;
  }

  getProtocol(): Protocol {
    return this._protocol;
  }

  isClosing(): boolean {
    return this._closing;
  }

  /** Stops reading (what was not delivered is dropped) and calls `connectionLost(null)` soon. */
  close(): void {
    if (!this._closing) this._close(null);
  }

  private _fatalError(exc: Error, message: string): void {
    if (exc instanceof OSError && exc.code === "EIO") {
      if (this._loop.getDebug()) logger.debug(`${this}: ${message}: ${exc}`);
    } else {
      this._loop.callExceptionHandler({ message, exception: exc, transport: this, protocol: this._protocol });
    }
    this._close(exc);
  }

  private _close(exc: Error | null): void {
    this._closing = true;
    this._queue.length = 0;
    this._loop.callSoon(this._callConnectionLost, exc);
  }

  private readonly _callConnectionLost = (exc: Error | null): void => {
    if (this._lost) return;
    this._lost = true;
    try {
      this._protocol.connectionLost(exc);
    } finally {
      this._release();
    }
  };

  private _release(): void {
    const stream = this._stream;
    stream.off("data", this._onData);
    stream.off("end", this._onEnd);
    stream.off("close", this._onClose);
    stream.off("error", this._onError);
    stream.on("error", ignoreError);
    stream.destroy();
  }

  override toString(): string {
    const state = this._lost ? " closed" : this._closing ? " closing" : "";
    const polling = this._lost || this._closing ? "" : this._paused ? " paused" : " polling";
    return `<ReadPipeTransport${state} ${this._desc}${polling}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

function ignoreError(): void {}

/**
 * The writing end of a pipe (CPython's `_UnixWritePipeTransport`): writes
 * never block, `writeEof()`/`close()` flush then close, `abort()` drops
 * what is buffered; the reader going away ends it with `connectionLost`
 * (`BrokenPipeError` if data was still to be written).
 *
 * Invariant: `_connLost > 0` once the transport failed or `connectionLost`
 * is scheduled; `_closing` once `writeEof`, `close` or `abort` was called.
 */
export class WritePipeTransport extends WriteTransport {
  private readonly _loop: AbstractEventLoop;
  private readonly _stream: Writable;
  private _protocol: BaseProtocol;
  private readonly _flow: WriteFlow;
  private _closing = false;
  private _connLost = 0;
  private _lost = false;
  private _lostScheduled = false;
  private _aborted = false;
  private readonly _desc: string;
  /** The stream is a socket read only to learn that the peer went away. */
  private readonly _watch: boolean;

  /** @internal Made by `connectWritePipe` (and the subprocess transport). */
  constructor(
    loop: AbstractEventLoop,
    pipe: PipeLike,
    stream: Writable,
    protocol: BaseProtocol,
    waiter: Future<void> | null,
    watch = false,
  ) {
    super({ pipe });
    this._loop = loop;
    this._stream = stream;
    this._protocol = protocol;
    this._desc = describe(pipe);
    this._watch = watch;
    this._flow = new WriteFlow(loop, this);
    loop.callSoon(protocol.connectionMade.bind(protocol), this);
    if (watch) loop.callSoon(this._startWatching);
    if (waiter !== null) loop.callSoon(setResultUnlessCancelled, waiter);
    stream.on("error", this._onError);
    stream.on("close", this._onClose);
    unref(stream);
  }

  private readonly _startWatching = (): void => {
    if (this._lost) return;
    const socket = this._stream as unknown as Readable;
    socket.on("data", this._onPeerGone);
    socket.on("end", this._onPeerGone);
  };

  private readonly _onPeerGone = (): void => this._schedule(this._peerGone);

  /** Destroyed by someone else: the reader is as good as gone. */
  private readonly _onClose = (): void => this._schedule(this._peerGone);

  private readonly _onError = (error: Error): void => {
    const exc = osErrorFrom(error) as Error;
    this._schedule(this._writeFailed, exc);
  };

  private _schedule<A extends unknown[]>(fn: (...args: A) => void, ...args: A): void {
    if (this._lost || this._loop.isClosed()) return;
    this._loop.callSoon(fn as (...a: unknown[]) => void, ...args);
  }

  /** CPython's `_read_ready` on a write pipe: the reader closed its end. */
  private readonly _peerGone = (): void => {
    if (this._connLost > 0 || this._lostScheduled) return;
    if (this._loop.getDebug()) logger.info(`${this} was closed by peer`);
    this._close(this.getWriteBufferSize() > 0 ? new BrokenPipeError(undefined, "Broken pipe", { code: "EPIPE" }) : null);
  };

  /** @internal The reader is known to be gone (the child of a subprocess transport exited). */
  _readerClosed(): void {
    this._peerGone();
  }

  private readonly _writeFailed = (exc: Error): void => {
    if (this._lostScheduled) return;
    this._connLost++;
    this._fatalError(exc, "Fatal write error on pipe transport");
  };

  getWriteBufferSize(): number {
    return this._lost || this._aborted ? 0 : this._stream.writableLength;
  }

  setWriteBufferLimits(limits?: WriteBufferLimits): void {
    this._flow.setLimits(limits);
  }

  getWriteBufferLimits(): [number, number] {
    return this._flow.limits();
  }

  /** Writes `data` (copied), buffering what the pipe does not take at once. */
  write(data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) {
      throw new TypeError(`data argument must be a bytes-like object (Uint8Array), not ${typeof data}`);
    }
    if (data.length === 0) return;
    if (this._connLost > 0 || this._closing) {
      this._connLost = countLostWrite(this._connLost, "pipe closed by peer or os.write(pipe, data) raised exception.");
      return;
    }
    this._stream.write(Buffer.from(data), this._written);
    this._flow.maybePause();
  }

  /** A write callback of the stream: the buffer shrank. */
  private readonly _written = (error?: Error | null): void => {
    if (error) return; // the "error" event reports it
    if (this._flow.paused || this._closing) this._schedule(this._drained);
  };

  private readonly _drained = (): void => {
    if (this._connLost > 0) return;
    this._flow.maybeResume();
    if (this._closing && this.getWriteBufferSize() === 0) this._scheduleConnectionLost(null);
  };

  canWriteEof(): boolean {
    return true;
  }

  /** Closes the pipe once the buffer is flushed (the reader then sees end of file). */
  writeEof(): void {
    if (this._closing) return;
    this._closing = true;
    if (!(this._stream instanceof net.Socket)) {
      this._stream.end();
      this._stream.once("finish", () => this._schedule(this._drained));
    } else if (this.getWriteBufferSize() === 0) {
      this._scheduleConnectionLost(null);
    }
  }

  setProtocol(protocol: BaseProtocol): void {
    this._protocol = protocol;
  }

  getProtocol(): BaseProtocol {
    return this._protocol;
  }

  isClosing(): boolean {
    return this._closing;
  }

  /** As `writeEof()`: the buffered data is written, then the pipe is closed. */
  close(): void {
    if (!this._lost && !this._closing) this.writeEof();
  }

  /** Closes at once, dropping what is buffered; `connectionLost(null)` follows. */
  abort(): void {
    this._close(null);
  }

  private _fatalError(exc: Error, message: string): void {
    if (exc instanceof OSError) {
      if (this._loop.getDebug()) logger.debug(`${this}: ${message}: ${exc}`);
    } else {
      this._loop.callExceptionHandler({ message, exception: exc, transport: this, protocol: this._protocol });
    }
    this._close(exc);
  }

  private _close(exc: Error | null): void {
    this._closing = true;
    this._aborted = true;
    this._scheduleConnectionLost(exc);
  }

  private _scheduleConnectionLost(exc: Error | null): void {
    if (this._lostScheduled) return;
    this._lostScheduled = true;
    this._connLost = Math.max(this._connLost, 1);
    if (this._loop.isClosed()) this._release();
    else this._loop.callSoon(this._callConnectionLost, exc);
  }

  private readonly _callConnectionLost = (exc: Error | null): void => {
    if (this._lost) return;
    this._lost = true;
    try {
      this._protocol.connectionLost(exc);
    } finally {
      this._release();
    }
  };

  private _release(): void {
    this._lost = true;
    const stream = this._stream;
    stream.off("error", this._onError);
    stream.off("close", this._onClose);
    if (this._watch) {
      (stream as unknown as Readable).off("data", this._onPeerGone);
      (stream as unknown as Readable).off("end", this._onPeerGone);
    }
    stream.on("error", ignoreError);
    stream.destroy();
  }

  override toString(): string {
    const state = this._lost ? " closed" : this._closing ? " closing" : "";
    return `<WritePipeTransport${state} ${this._desc} bufsize=${this.getWriteBufferSize()}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

// ---- the loop's methods ----------------------------------------------------------

/** The stream a read pipe transport reads: `pipe` itself, or a stream opened on the descriptor. */
function readStreamOf(pipe: PipeLike): Readable {
  if (typeof pipe === "number") return readStreamForFd(pipe);
  if (!isReadable(pipe))
    throw new TypeError(`a read pipe must be a file descriptor or a readable Node stream, not ${describe(pipe)}`);
  return pipe;
}

function writeStreamOf(pipe: PipeLike): { stream: Writable; watch: boolean } {
  if (typeof pipe === "number") return writeStreamForFd(pipe);
  if (!isWritable(pipe))
    throw new TypeError(`a write pipe must be a file descriptor or a writable Node stream, not ${describe(pipe)}`);
  // A readable socket tells that its peer went away by end of file (CPython reads the write end for that).
  return { stream: pipe, watch: pipe instanceof net.Socket && pipe.readable };
}

function* connect<T>(loop: AbstractEventLoop, make: (waiter: Future<void>) => T & { close(): void }): Generator<unknown, T> {
  const waiter = loop.createFuture<void>();
  const transport = make(waiter);
  try {
    yield* waiter;
  } catch (error) {
    transport.close();
    throw error;
  }
  return transport;
}

function checkOpen(loop: AbstractEventLoop): void {
  if (loop.isClosed()) throw new RuntimeError("Event loop is closed");
}

/** The loop's `connectReadPipe`: resolves `[transport, protocol]` once `connectionMade` has run. */
export function connectReadPipe<P extends Protocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  pipe: PipeLike,
): Coro<[ReadPipeTransport, P]> {
  checkOpen(loop);
  return new Coro(function* () {
    const stream = readStreamOf(pipe);
    const protocol = protocolFactory();
    const transport = yield* connect(loop, (waiter) => new ReadPipeTransport(loop, pipe, stream, protocol, waiter));
    return [transport, protocol] as [ReadPipeTransport, P];
  }, "connectReadPipe");
}

/** The loop's `connectWritePipe`: resolves `[transport, protocol]` once `connectionMade` has run. */
export function connectWritePipe<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  pipe: PipeLike,
): Coro<[WritePipeTransport, P]> {
  checkOpen(loop);
  return new Coro(function* () {
    const { stream, watch } = writeStreamOf(pipe);
    const protocol = protocolFactory();
    const make = (waiter: Future<void>): WritePipeTransport =>
      new WritePipeTransport(loop, pipe, stream, protocol, waiter, watch);
    const transport = yield* connect(loop, make);
    return [transport, protocol] as [WritePipeTransport, P];
  }, "connectWritePipe");
}
