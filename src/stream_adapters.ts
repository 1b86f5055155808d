/**
 * Transports over Node streams, behind `StreamReader.fromReadable` and
 * `StreamWriter.fromWritable`: a `Readable` becomes a read transport (its
 * `pause()`/`resume()` are the transport's), a `Writable` a write transport
 * whose buffer size counts the bytes handed to `write()` whose callback has
 * not run yet (so flow control works whatever the stream's own high-water
 * mark). Nothing here imports Node's I/O modules: the streams are given.
 *
 * Node calls these listeners outside the loop's iterations; they only feed
 * the stream protocol (no user code runs in them), and stop once the loop is
 * closed.
 */
import type { AbstractEventLoop } from "./events.js";
import { osErrorFrom, RuntimeError } from "./exceptions.js";
import { logger } from "./log.js";
import type { BaseProtocol, Protocol } from "./protocols.js";
import type { WriteBufferLimits } from "./transports.js";
import { ReadTransport, resolveWriteBufferLimits, WriteTransport } from "./transports.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** After this many writes to a lost connection, each further one is logged (CPython's LOG_THRESHOLD_FOR_CONNLOST_WRITES). */
const LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5;

function asError(error: unknown): Error {
  const mapped = osErrorFrom(error);
  return mapped instanceof Error ? mapped : new RuntimeError(String(mapped));
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === "string") return Buffer.from(chunk);
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`StreamReader.fromReadable() needs a stream of bytes or strings, got a chunk of type ${typeof chunk}`);
}

/** A Node `Readable` as a read transport. */
export class ReadableTransport extends ReadTransport {
  private readonly _readable: NodeJS.ReadableStream;
  private _protocol: Protocol;
  private readonly _loop: AbstractEventLoop;
  private _closing = false;
  private _lost = false;
  private _paused = false;

  constructor(readable: NodeJS.ReadableStream, protocol: Protocol, loop: AbstractEventLoop) {
    super({ pipe: readable });
    this._readable = readable;
    this._protocol = protocol;
    this._loop = loop;
    readable.on("data", (chunk: unknown) => this._onData(chunk));
    readable.on("end", () => this._onEnd());
    readable.on("error", (error: unknown) => this._connectionLost(asError(error)));
    readable.on("close", () => this._connectionLost(null));
  }

  private _onData(chunk: unknown): void {
    if (this._lost || this._loop.isClosed()) return;
    let data: Buffer;
    try {
      data = toBuffer(chunk);
    } catch (error) {
      this._connectionLost(error as Error);
      return;
    }
    this._protocol.dataReceived(data);
  }

  private _onEnd(): void {
    if (this._lost || this._loop.isClosed()) return;
    this._protocol.eofReceived();
    this._connectionLost(null);
  }

  private _connectionLost(exc: Error | null): void {
    if (this._lost || this._loop.isClosed()) return;
    this._lost = true;
    this._closing = true;
    this._protocol.connectionLost(exc);
  }

  isReading(): boolean {
    return !this._paused && !this._closing;
  }

  pauseReading(): void {
    if (this._closing || this._paused) return;
    this._paused = true;
    this._readable.pause();
  }

  resumeReading(): void {
    if (this._closing || !this._paused) return;
    this._paused = false;
    this._readable.resume();
  }

  isClosing(): boolean {
    return this._closing;
  }

  /** Stops reading: the stream is destroyed and `connectionLost(null)` follows. */
  close(): void {
    if (this._closing) return;
    this._closing = true;
    const destroy = (this._readable as { destroy?: () => void }).destroy;
    if (typeof destroy === "function") destroy.call(this._readable);
    else this._readable.pause();
    queueMicrotask(() => this._connectionLost(null));
  }

  setProtocol(protocol: BaseProtocol): void {
    this._protocol = protocol as Protocol;
  }

  getProtocol(): BaseProtocol {
    return this._protocol;
  }

  override toString(): string {
    const state = this._lost ? "closed" : this._closing ? "closing" : this._paused ? "paused" : "reading";
    return `<ReadableTransport ${state}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/** A Node `Writable` as a write transport with flow control. */
export class WritableTransport extends WriteTransport {
  private readonly _writable: NodeJS.WritableStream;
  private _protocol: BaseProtocol;
  private readonly _loop: AbstractEventLoop;
  /** Bytes given to `write()` whose callback has not run yet. */
  private _buffered = 0;
  private _highWater = 0;
  private _lowWater = 0;
  /** Invariant: true between a `pauseWriting()` sent to the protocol and the next `resumeWriting()`. */
  private _protocolPaused = false;
  private _closing = false;
  private _eof = false;
  private _lost = false;
  /** Writes attempted after the connection was lost. */
  private _lostWrites = 0;

  constructor(writable: NodeJS.WritableStream, protocol: BaseProtocol, loop: AbstractEventLoop) {
    super({ pipe: writable });
    this._writable = writable;
    this._protocol = protocol;
    this._loop = loop;
    this.setWriteBufferLimits();
    writable.on("error", (error: unknown) => this._connectionLost(asError(error)));
    writable.on("finish", () => this._connectionLost(null));
    writable.on("close", () => this._connectionLost(null));
  }

  setWriteBufferLimits(limits: WriteBufferLimits = {}): void {
    [this._lowWater, this._highWater] = resolveWriteBufferLimits(limits);
    this._maybePause();
  }

  getWriteBufferLimits(): [number, number] {
    return [this._lowWater, this._highWater];
  }

  getWriteBufferSize(): number {
    return this._buffered;
  }

  write(data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) throw new TypeError(`data argument must be a Uint8Array (bytes), not ${typeof data}`);
    if (this._eof) throw new RuntimeError("Cannot call write() after writeEof()");
    if (this._lost) {
      this._lostWrites += 1;
      if (this._lostWrites >= LOG_THRESHOLD_FOR_CONNLOST_WRITES)
        logger.warn(`${this}: write() to a closed stream: ${data.length} bytes not written`);
      return;
    }
    if (this._closing) throw new RuntimeError(`Cannot call write() after close(): ${this}`);
    if (data.length === 0) return;
    const n = data.length;
    this._buffered += n;
    this._writable.write(data, (error?: Error | null) => this._written(n, error));
    this._maybePause();
  }

  private _written(n: number, error: Error | null | undefined): void {
    this._buffered -= n;
    if (error !== null && error !== undefined) {
      this._connectionLost(asError(error));
      return;
    }
    this._maybeResume();
  }

  private _maybePause(): void {
    if (this._protocolPaused || this._buffered <= this._highWater || this._lost) return;
    this._protocolPaused = true;
    this._protocol.pauseWriting();
  }

  private _maybeResume(): void {
    if (!this._protocolPaused || this._buffered > this._lowWater || this._lost || this._loop.isClosed()) return;
    this._protocolPaused = false;
    this._protocol.resumeWriting();
  }

  /** Ends the stream after the buffered data: for a write-only stream, the same as `close()`. */
  writeEof(): void {
    if (this._eof) return;
    this._eof = true;
    this.close();
  }

  canWriteEof(): boolean {
    return true;
  }

  abort(): void {
    if (this._lost) return;
    this._closing = true;
    const destroy = (this._writable as { destroy?: () => void }).destroy;
    if (typeof destroy === "function") destroy.call(this._writable);
    queueMicrotask(() => this._connectionLost(null));
  }

  isClosing(): boolean {
    return this._closing || this._lost;
  }

  /** Ends the stream; `connectionLost(null)` follows once it is finished. */
  close(): void {
    if (this._closing || this._lost) return;
    this._closing = true;
    this._writable.end();
  }

  private _connectionLost(exc: Error | null): void {
    if (this._lost || this._loop.isClosed()) return;
    this._lost = true;
    this._closing = true;
    this._protocol.connectionLost(exc);
  }

  setProtocol(protocol: BaseProtocol): void {
    this._protocol = protocol;
  }

  getProtocol(): BaseProtocol {
    return this._protocol;
  }

  override toString(): string {
    const state = this._lost ? "closed" : this._closing ? "closing" : "open";
    return `<WritableTransport ${state} bufsize=${this._buffered}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}
