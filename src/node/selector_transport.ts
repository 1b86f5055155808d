/**
 * The stream transport on a raw non-blocking descriptor (CPython's
 * `_SelectorSocketTransport` of `selector_events.py`, hence the name): TCP
 * and Unix stream sockets read and written straight through the native
 * addon, readiness from a `uv_poll_t` on Node's own libuv loop
 * (fd_watch.ts). Reading: `recv` into a shared scratch buffer, a small
 * receive copied into a shared pool and handed to `dataReceived` as a view
 * of it (the protocol may keep it), a large one handed out as it is; or
 * straight into the protocol's own buffer for a `BufferedProtocol` (no
 * copy). Writing: `write()` sends at once when nothing is buffered and
 * buffers only what the kernel refused; the writer drains the buffer with
 * one `writev` per readiness report. Flow control is `FlowControlTransport`
 * against the buffered size. The `net`-based transport (net_transport.ts)
 * remains for TLS and as the fallback backend; tcp.ts picks one per
 * connection (`transportBackendOf`).
 */
import net from "node:net";
import { markAsUntransferable } from "node:worker_threads";
import type { BaseEventLoop } from "../base_events.js";
import { type Context, copyContext } from "../contextvars.js";
import type { AbstractEventLoop, Callback } from "../events.js";
import { ConnectionError, OSError, RuntimeError, ValueError } from "../exceptions.js";
import type { Coroutine, Future } from "../futures.js";
import { logger } from "../log.js";
import type { BaseProtocol, BufferedProtocol, Protocol } from "../protocols.js";
import { isBufferedProtocol } from "../protocols.js";
import { AF_UNIX, IPPROTO_TCP, SHUT_WR, SOCK_STREAM, TCP_NODELAY } from "../socket_constants.js";
import { checkWriteData, countLostWrite, FlowControlTransport } from "../transports.js";
import type { NativeAddon } from "./addon.js";
import { addon, addonAvailable, errnoError, sys } from "./addon.js";
import { afterReports, FdWatch } from "./fd_watch.js";
import type { TransportOwner } from "./net_transport.js";
import { sockSendfile } from "./sock_ops.js";
import { Socket } from "./socket.js";
import { handleFd, TransportSocket } from "./trsock.js";
import { restoreBufferScavenging } from "./v8_heap.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** At most this much per receive (Node's own read size; CPython's `max_size` is 256 KiB). */
const MAX_SIZE = 64 * 1024;
/** The size of the pool small receives are handed out from. */
const POOL_SIZE = 64 * 1024;

/**
 * A Buffer over part of an ArrayBuffer, made the way Node's internal
 * `FastBuffer` is: a Uint8Array whose prototype is Buffer's, so
 * `Buffer.isBuffer` holds and every Buffer method works. `subarray()` on a
 * Buffer goes through `Buffer.from` (about 100 ns); this costs what a
 * typed array costs.
 */
class ChunkBuffer extends Uint8Array {}
Object.setPrototypeOf(ChunkBuffer.prototype, Buffer.prototype);
Object.defineProperty(ChunkBuffer.prototype, "constructor", { value: Buffer, writable: true, configurable: true });
/*
 * Resolving a Promise with an object looks up its `then`, and V8 does it
 * with a generic walk of the whole prototype chain (Buffer's prototype,
 * Uint8Array's, TypedArray's, Object's): about 400 instructions per
 * chunk, and every chunk an async function awaits (`await reader.read()`)
 * is looked up once or twice. An own `then: undefined` on the chunks'
 * prototype ends the walk at its first step; `chunk.then` is undefined as
 * before, and the property is not enumerable.
 */
Object.defineProperty(ChunkBuffer.prototype, "then", { value: undefined, writable: true, configurable: true });

function chunk(buffer: ArrayBuffer, offset: number, length: number): Buffer {
  return new ChunkBuffer(buffer, offset, length) as unknown as Buffer;
}

/**
 * Where receives land, shared by every native transport of the thread.
 * Received chunks are views of `pool`, as `Buffer.allocUnsafe` hands out
 * views of Node's pool: an ArrayBuffer per receive would cost more than
 * the receive's JavaScript. After a small receive the kernel writes
 * straight into the pool (at least `RECV_COPY_LIMIT`, 16 KiB, of it is
 * free). After a large one, it writes into `scratch` (`recvPooled`): a
 * receive smaller than the limit is copied into the pool, a larger one is
 * handed out in `scratch` itself and a new scratch buffer is made: no copy
 * of 64 KiB per receive, and no 64 KiB buffer held per idle connection.
 */
const firstScratch = uninitialized(MAX_SIZE);
const firstPool = poolBuffer();
const receive = {
  /**
   * The view the addon writes through; `scratchMemory` is its ArrayBuffer,
   * of which the chunks are views (as `poolMemory` is the pool's). Each is
   * read once, when its buffer is made: `.buffer` is a call into the engine,
   * as costly as the chunk's typed array.
   */
  scratch: firstScratch,
  scratchMemory: firstScratch.buffer as ArrayBuffer,
  pool: firstPool,
  poolMemory: firstPool.buffer as ArrayBuffer,
  poolOffset: 0,
};

/**
 * A buffer of its own, not zero-filled (`new ArrayBuffer` fills 64 KiB with
 * zeros, about 10 us).
 */
function uninitialized(size: number): Uint8Array {
  return Buffer.allocUnsafeSlow(size);
}

function newScratch(): void {
  receive.scratch = uninitialized(MAX_SIZE);
  receive.scratchMemory = receive.scratch.buffer as ArrayBuffer;
}

/**
 * A pool, marked untransferable as Node marks its own: a pool transferred
 * to a worker (`postMessage(chunk.buffer, [chunk.buffer])`) would be
 * detached here, under the chunks still to be handed out of it.
 */
function poolBuffer(): Uint8Array {
  const pool = uninitialized(POOL_SIZE);
  markAsUntransferable(pool.buffer);
  return pool;
}

/**
 * The transports receiving ahead in this poll phase, and the addon's
 * arguments for them (`SelectorSocketTransport._receiveAhead`).
 */
const ahead: SelectorSocketTransport[] = [];
let aheadFds = new Int32Array(64);
let aheadResults = new Int32Array(128);

/** The `n` bytes received at `start` of the pool, as a chunk; the pool's next receive starts at the following 8-byte boundary, as Node aligns its pool. */
function takeFromPool(start: number, n: number): Buffer {
  receive.poolOffset = (start + n + 7) & ~7;
  return chunk(receive.poolMemory, start, n);
}

function newPool(): void {
  receive.pool = poolBuffer();
  receive.poolMemory = receive.pool.buffer as ArrayBuffer;
  receive.poolOffset = 0;
}

/** Which transports the loop makes for plain TCP and Unix connections. */
export type TransportBackend = "native" | "net";

/** The environment variable that picks the backend of loops made without `transportBackend`. */
export const TRANSPORTS_ENV = "ASYNCIO_TS_TRANSPORTS";

/**
 * The backend asked for by `ASYNCIO_TS_TRANSPORTS` (`native` or `net`), or
 * the default, `native`; any other value is a `RuntimeError` (a typo must
 * not silently pick a backend).
 */
export function defaultTransportBackend(): TransportBackend {
  const value = process.env[TRANSPORTS_ENV];
  if (value === undefined || value === "") return "native";
  if (value === "native" || value === "net") return value;
  throw new RuntimeError(`${TRANSPORTS_ENV} must be "native" or "net", not ${JSON.stringify(value)}`);
}

/**
 * Whether `loop` makes native transports for plain connections: its
 * `transportBackend` says `native` (the default) and the addon is there.
 * Without the addon every loop uses the `net` backend.
 */
export function usesNativeTransports(loop: AbstractEventLoop): boolean {
  const backend = (loop as { transportBackend?: unknown }).transportBackend ?? "net";
  return backend === "native" && addonAvailable();
}

/** `-errno` of "try again when ready". */
function mustWait(native: NativeAddon, result: number): boolean {
  return result === -native.EAGAIN || result === -native.EWOULDBLOCK || result === -native.EINTR;
}

/** Options of `new SelectorSocketTransport`. */
export interface SelectorTransportOptions {
  /** The server that accepted the connection. */
  server?: TransportOwner | null;
  /** Resolved once `connectionMade` has been called. */
  waiter?: Future<void> | null;
  /** Extra information added to (or replacing) `peername`, `sockname`, `socket`. */
  extra?: Record<string, unknown>;
}

/**
 * A connected TCP or Unix stream socket as an asyncio transport, on its
 * descriptor (CPython's `_SelectorSocketTransport`).
 *
 * Invariants: `_buffer` holds what the kernel refused, its first chunk from
 * `_offset` on, `_bufferSize` bytes in all; the writer is watched exactly
 * while `_buffer` is not empty; `connectionLost` runs once, last, and then
 * the socket is closed (`_sock.fileno()` is -1).
 */
export class SelectorSocketTransport extends FlowControlTransport {
  protected readonly _loop: AbstractEventLoop;
  protected _protocol: BaseProtocol;
  private readonly _sock: Socket;
  private readonly _fd: number;
  private readonly _kind: "TCP" | "Unix";
  private readonly _native: NativeAddon;
  private readonly _watch: FdWatch;
  private readonly _context: Context;
  private _server: TransportOwner | null;
  private _buffered: boolean;
  private _buffer: Uint8Array[] = [];
  private _offset = 0;
  private _bufferSize = 0;
  private _paused = false;
  private _closing = false;
  private _eof = false;
  /** The peer's end of file was received (and the protocol kept the transport open). */
  private _readEof = false;
  private _lost = false;
  /** Writes refused since the connection was lost or closed (`_conn_lost`). */
  private _connLost = 0;
  /** The last descriptor number, for the repr once closed. */
  private _lastFd: number;
  /** Futures of `_drained()`. */
  private _emptyWaiters: Future<void>[] = [];
  /**
   * What `_prefetch` received and the reader has not delivered yet: a
   * chunk, or the receive's result when it was not data (0: end of file;
   * -errno). Always older than anything still in the kernel.
   */
  private _received: Buffer | number | null = null;
  /**
   * The last receive was large (at least `RECV_COPY_LIMIT`): the peer
   * streams. Receiving ahead would only take its data in smaller pieces
   * (the 64 KiB echo lost 9 % when it did), so the reader receives in the
   * iteration, and into the scratch buffer rather than the pool.
   */
  private _lastLarge = false;

  constructor(loop: AbstractEventLoop, sock: Socket, protocol: BaseProtocol, options: SelectorTransportOptions = {}) {
    const socket = new TransportSocket(sock);
    super({ socket, sockname: socket.getsockname(), peername: socket.getpeername(), ...options.extra });
    this._loop = loop;
    this._sock = sock;
    this._fd = sock.fileno();
    this._lastFd = this._fd;
    this._kind = sock.family === AF_UNIX ? "Unix" : "TCP";
    this._native = addon();
    restoreBufferScavenging();
    this._watch = FdWatch.of(loop as BaseEventLoop);
    this._protocol = protocol;
    this._buffered = isBufferedProtocol(protocol);
    this._context = copyContext();
    this._server = options.server ?? null;
    sock.setblocking(false);
    // As CPython's transports (and uvloop's), TCP_NODELAY: an echo must not wait for Nagle.
    if (this._kind === "TCP") sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
    this._server?._attach(this);
    const waiter = options.waiter ?? null;
    // CPython's order: connection_made, then the reader, then the waiter (each a callback of its own).
    this._loop._callSoonInContext(this._context, this._connectionMade, null);
    this._loop._callSoonInContext(this._context, this._startReading, null);
    if (waiter !== null) this._loop._callSoonInContext(this._context, setResultUnlessCancelled as Callback<unknown[]>, [waiter]);
  }

  // ---- reading --------------------------------------------------------------

  private readonly _connectionMade = (): void => {
    this._protocol.connectionMade(this);
  };

  private readonly _startReading = (): void => {
    if (!this._paused && !this._closing) this._addReader();
  };

  private _addReader(): void {
    this._watch.addReader(this._fd, this._readReady, [], true, this._prefetch);
  }

  /**
   * Receives as soon as the poll reports the socket readable, before the
   * loop iteration whose reader delivers it (`_readReady`). One poll then
   * does all its receives first and its protocols' replies after, in a
   * burst, as uvloop's queued writes do: interleaving each receive with a
   * reply let a fast peer fall asleep between replies and woke it for the
   * next, and on loopback the wakeup is the sender's cost (with this order
   * the 1 KiB echo's server spends less CPU per request than uvloop's).
   * `write()` still sends at once. A BufferedProtocol receives in the
   * iteration: its `getBuffer()` is the protocol's code.
   */
  private readonly _prefetch = (): void => {
    if (this._buffered || this._lastLarge || this._received !== null || this._paused || this._closing) return;
    ahead.push(this);
  };

  /**
   * Once a poll phase's reports are dispatched: one addon call receives
   * for every transport `_prefetch` queued (two when the pool fills up),
   * instead of one call per transport, each as costly as the receive's
   * JavaScript.
   */
  static _receiveAhead(): void {
    const count = ahead.length;
    if (count === 0) return;
    try {
      if (aheadFds.length < count) {
        aheadFds = new Int32Array(count * 2);
        aheadResults = new Int32Array(count * 4);
      }
      const native = (ahead[0] as SelectorSocketTransport)._native;
      const limit = native.RECV_COPY_LIMIT;
      const r = receive;
      for (let base = 0; base < count; ) {
        if (POOL_SIZE - r.poolOffset < limit) newPool();
        for (let i = base; i < count; i++) aheadFds[i - base] = (ahead[i] as SelectorSocketTransport)._fd;
        const done = native.recvBatch(aheadFds, count - base, r.pool, r.poolOffset, aheadResults);
        for (let i = 0; i < done; i++) {
          const transport = ahead[base + i] as SelectorSocketTransport;
          const n = aheadResults[2 * i] as number;
          if (n <= 0) {
            transport._received = n;
            continue;
          }
          transport._received = takeFromPool(aheadResults[2 * i + 1] as number, n);
          transport._lastLarge = n >= limit;
        }
        base += done;
      }
    } finally {
      ahead.length = 0;
    }
  }

  private readonly _readReady = (): void => {
    if (this._connLost > 0) return;
    if (this._received !== null) this._deliverReceived();
    else if (this._buffered) this._readIntoProtocol();
    else this._deliver(this._receive());
  };

  /** Delivers the chunk received ahead (the reader's, or at `resumeReading()` a callback of its own). */
  private readonly _deliverReceived = (): void => {
    if (this._received === null || this._paused || this._closing) return;
    const received = this._received;
    this._received = null;
    this._deliver(received);
  };

  /** One receive: a chunk, or the result that was not data (0, -errno). */
  private _receive(): Buffer | number {
    const native = this._native;
    const limit = native.RECV_COPY_LIMIT;
    const r = receive;
    if (POOL_SIZE - r.poolOffset < limit) newPool();
    if (!this._lastLarge) {
      // After a small receive: straight into the pool (at least RECV_COPY_LIMIT bytes of it are free), no copy.
      const n = native.recv(this._fd, r.pool, r.poolOffset, POOL_SIZE - r.poolOffset, 0);
      if (n <= 0) return n;
      this._lastLarge = n >= limit;
      return takeFromPool(r.poolOffset, n);
    }
    const n = native.recvPooled(this._fd, r.scratch, r.pool, r.poolOffset);
    if (n <= 0) return n;
    if (n < limit) {
      this._lastLarge = false;
      return takeFromPool(r.poolOffset, n);
    }
    const data = chunk(r.scratchMemory, 0, n);
    newScratch();
    this._lastLarge = true;
    return data;
  }

  private _deliver(received: Buffer | number): void {
    if (typeof received === "number") this._readFailed(received);
    else if (this._buffered) this._copyIntoProtocol(received);
    else {
      try {
        (this._protocol as Protocol).dataReceived(received);
      } catch (error) {
        this._fatalError(error, "Fatal error: protocol.dataReceived() call failed.");
      }
    }
  }

  /** A receive that brought no data: end of file, an error, or nothing after all. */
  private _readFailed(n: number): void {
    if (n === 0) this._readReadyOnEof();
    else if (!mustWait(this._native, n)) this._fatalError(errnoError(-n, "recv"), "Fatal read error on socket transport");
  }

  /** BufferedProtocol: the protocol's own buffer is what the kernel writes into. */
  private _readIntoProtocol(): void {
    const buffer = this._protocolBuffer(-1);
    if (buffer === null) return;
    const n = this._native.recvBuffer(this._fd, buffer);
    if (n > 0) this._bufferUpdated(n);
    else this._readFailed(n);
  }

  /**
   * A chunk received ahead for a protocol that became a BufferedProtocol
   * since (`setProtocol`): copied into as many of its buffers as it takes.
   * What the protocol does not take now (it paused reading, or changed
   * again) stays first in line.
   */
  private _copyIntoProtocol(data: Buffer): void {
    let offset = 0;
    while (offset < data.length) {
      const buffer = this._protocolBuffer(data.length - offset);
      if (buffer === null) return;
      const n = Math.min(buffer.length, data.length - offset);
      buffer.set(data.subarray(offset, offset + n));
      offset += n;
      if (!this._bufferUpdated(n) || this._closing) return;
      if (offset < data.length && (this._paused || !this._buffered)) {
        this._received = data.subarray(offset);
        if (!this._paused) this._loop._callSoonInContext(this._context, this._deliverReceived, null);
        return;
      }
    }
  }

  /** The BufferedProtocol's `getBuffer(sizehint)`, checked; null after a fatal error. */
  private _protocolBuffer(sizehint: number): Uint8Array | null {
    try {
      const buffer = (this._protocol as BufferedProtocol).getBuffer(sizehint);
      if (!(buffer instanceof Uint8Array)) throw new TypeError(`getBuffer() must return a Uint8Array, not ${typeof buffer}`);
      if (buffer.length === 0) throw new RuntimeError("getBuffer() returned an empty buffer");
      return buffer;
    } catch (error) {
      this._fatalError(error, "Fatal error: protocol.getBuffer() call failed.");
      return null;
    }
  }

  /** The BufferedProtocol's `bufferUpdated(n)`; false after a fatal error. */
  private _bufferUpdated(n: number): boolean {
    try {
      (this._protocol as BufferedProtocol).bufferUpdated(n);
      return true;
    } catch (error) {
      this._fatalError(error, "Fatal error: protocol.bufferUpdated() call failed.");
      return false;
    }
  }

  private _readReadyOnEof(): void {
    if (this._loop.getDebug()) logger.debug(`${this} received EOF`);
    let keepOpen: unknown;
    try {
      keepOpen = (this._protocol as Protocol).eofReceived();
    } catch (error) {
      this._fatalError(error, "Fatal error: protocol.eofReceived() call failed.");
      return;
    }
    if (keepOpen !== true) {
      this.close();
      return;
    }
    // The peer sends nothing more: stop polling for reading (level-triggered, it would report again and again).
    this._readEof = true;
    this._watch.removeReader(this._fd);
    // Both directions are over: the connection is, as the `net` backend's (Node ends a socket ended both ways).
    if (this._eof && this._bufferSize === 0) this.close();
  }

  isReading(): boolean {
    return !this._paused && !this._closing;
  }

  /** Stops reading until `resumeReading()`; what arrives meanwhile waits in the kernel. */
  pauseReading(): void {
    if (this._closing || this._paused) return;
    this._paused = true;
    this._watch.removeReader(this._fd);
    if (this._loop.getDebug()) logger.debug(`${this} pauses reading`);
  }

  resumeReading(): void {
    if (this._closing || !this._paused) return;
    this._paused = false;
    if (this._received !== null) this._loop._callSoonInContext(this._context, this._deliverReceived, null);
    // After the peer's end of file there is nothing to read (and eofReceived must not come twice).
    if (!this._readEof) this._addReader();
    if (this._loop.getDebug()) logger.debug(`${this} resumes reading`);
  }

  // ---- writing --------------------------------------------------------------

  /**
   * Sends `data`; never blocks. When nothing is buffered it goes to the
   * kernel at once and only what the kernel refused is kept. As in CPython
   * 3.12+, the transport keeps a reference to `data` (no copy) until it is
   * sent: do not modify a buffer after writing it.
   */
  write(data: Uint8Array): void {
    checkWriteData(data, this._eof);
    if (data.length === 0) return;
    if (this._connLost > 0) {
      this._connLost = countLostWrite(this._connLost);
      return;
    }
    if (this._bufferSize === 0) {
      const n = this._native.sendBuffer(this._fd, data);
      if (n === data.length) return;
      if (n < 0) {
        if (!mustWait(this._native, n)) {
          this._fatalError(errnoError(-n, "send"), "Fatal write error on socket transport");
          return;
        }
      } else {
        data = data.subarray(n);
      }
      this._watch.addWriter(this._fd, this._writeReady, [], true);
    }
    this._buffer.push(data);
    this._bufferSize += data.length;
    this._maybePauseProtocol();
  }

  /** Sends the chunks in one `writev` when nothing is buffered (CPython 3.12's `writelines`). */
  override writelines(chunks: Iterable<Uint8Array>): void {
    const list = Array.from(chunks);
    if (this._bufferSize > 0 || this._connLost > 0 || this._eof || list.length < 2) {
      for (const chunk of list) this.write(chunk);
      return;
    }
    for (const chunk of list) {
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError(
          `data argument must be a bytes-like object (Uint8Array), not ${chunk === null ? "null" : typeof chunk}`,
        );
      }
      if (chunk.length === 0) continue;
      this._buffer.push(chunk);
      this._bufferSize += chunk.length;
    }
    if (this._bufferSize === 0) return;
    this._watch.addWriter(this._fd, this._writeReady, [], true);
    this._writeReady();
    if (this._bufferSize > 0) this._maybePauseProtocol();
  }

  private readonly _writeReady = (): void => {
    if (this._connLost > 0 && this._lost) return;
    if (this._bufferSize === 0) return;
    const native = this._native;
    const n = native.writev(this._fd, this._buffer, this._offset);
    if (n < 0) {
      if (mustWait(native, n)) return;
      this._watch.removeWriter(this._fd);
      this._buffer = [];
      this._offset = 0;
      this._bufferSize = 0;
      this._fatalError(errnoError(-n, "send"), "Fatal write error on socket transport");
      return;
    }
    this._consume(n);
    this._maybeResumeProtocol();
    if (this._bufferSize > 0) return;
    this._watch.removeWriter(this._fd);
    this._wakeEmptyWaiters(null);
    if (this._closing) this._callConnectionLost(null);
    else if (this._eof) this._shutdownWrite();
  };

  /** Drops `n` sent bytes from the head of the buffer. */
  private _consume(n: number): void {
    this._bufferSize -= n;
    const buffer = this._buffer;
    let i = 0;
    let offset = this._offset + n;
    while (i < buffer.length && offset >= (buffer[i] as Uint8Array).length) {
      offset -= (buffer[i] as Uint8Array).length;
      i++;
    }
    if (i > 0) buffer.splice(0, i);
    this._offset = buffer.length === 0 ? 0 : offset;
  }

  getWriteBufferSize(): number {
    return this._bufferSize;
  }

  /** Half-closes: the peer gets end of file once the buffered data is sent; reading goes on. */
  writeEof(): void {
    if (this._closing || this._eof) return;
    this._eof = true;
    if (this._bufferSize === 0) this._shutdownWrite();
  }

  private _shutdownWrite(): void {
    try {
      sys(() => this._native.shutdown(this._fd, SHUT_WR));
    } catch (error) {
      // ENOTCONN: the peer is gone already; the read side reports how.
      if (!(error instanceof OSError)) throw error;
    }
    if (this._readEof) this.close();
  }

  canWriteEof(): boolean {
    return true;
  }

  isClosing(): boolean {
    return this._closing;
  }

  /** Stops reading, flushes what is buffered, then closes; `connectionLost(null)` follows. */
  close(): void {
    if (this._closing) return;
    this._closing = true;
    this._received = null; // no more data is received (CPython leaves it in the kernel)
    this._watch.removeReader(this._fd);
    if (this._bufferSize === 0) {
      this._connLost++;
      this._loop._callSoonInContext(this._context, this._callConnectionLost as Callback<unknown[]>, [null]);
    }
  }

  /** Closes at once, dropping buffered data; `connectionLost(null)` follows. */
  abort(): void {
    this._forceClose(null);
  }

  /** An error the transport cannot recover from: report it (unless an OSError) and close at once. */
  private _fatalError(error: unknown, message: string): void {
    if (!(error instanceof OSError)) {
      this._loop.callExceptionHandler({ message, exception: error, transport: this, protocol: this._protocol });
    } else if (this._loop.getDebug()) {
      logger.debug(`${this}: ${message}`, error);
    }
    this._forceClose(error instanceof Error ? error : new RuntimeError(String(error)));
  }

  private _forceClose(error: Error | null): void {
    if (this._connLost > 0) return;
    this._wakeEmptyWaiters(error ?? new ConnectionError(undefined, "Connection is closed"));
    if (this._bufferSize > 0) {
      this._buffer = [];
      this._offset = 0;
      this._bufferSize = 0;
      this._watch.removeWriter(this._fd);
    }
    if (!this._closing) {
      this._closing = true;
      this._received = null;
      this._watch.removeReader(this._fd);
    }
    this._connLost++;
    this._loop._callSoonInContext(this._context, this._callConnectionLost as Callback<unknown[]>, [error]);
  }

  private readonly _callConnectionLost = (error: Error | null): void => {
    if (this._lost) return;
    this._lost = true;
    try {
      this._protocol.connectionLost(error);
    } catch (exception) {
      this._loop.callExceptionHandler({
        message: "protocol.connectionLost() failed",
        exception,
        transport: this,
        protocol: this._protocol,
      });
    } finally {
      // Releases the watcher too (Socket.close), before the number can be reused.
      this._sock.close();
      const server = this._server;
      this._server = null;
      server?._detach(this);
    }
  };

  setProtocol(protocol: BaseProtocol): void {
    this._protocol = protocol;
    this._buffered = isBufferedProtocol(protocol);
  }

  /**
   * TLS hook (`startTls`, tls.ts): gives the live descriptor to a paused
   * Node socket for the TLS layer, which runs on Node's `tls`. This
   * transport is done from then on, without `connectionLost` (its protocol
   * goes on with the TLS transport). A chunk received ahead and not yet
   * delivered (`_prefetch`) goes back into the Node socket, where the TLS
   * layer reads it first; a write buffer that is not empty is refused
   * rather than reordered.
   */
  _detachForTls(): { sock: net.Socket; server: TransportOwner | null } {
    if (this._closing || this._lost || this._eof || this._readEof) {
      throw new RuntimeError(`${this} is closing or half-closed: startTls() needs a live connection`);
    }
    if (this._bufferSize > 0) {
      throw new RuntimeError(`${this} still has ${this._bufferSize} bytes to send: startTls() needs its writes sent first`);
    }
    const received = this._received;
    if (typeof received === "number" && !mustWait(this._native, received)) {
      throw new RuntimeError(`the peer of ${this} closed the connection: startTls() needs a live connection`);
    }
    this._received = null;
    this._watch.removeReader(this._fd);
    this._closing = true;
    this._lost = true;
    this._connLost = 1;
    // detach() releases the descriptor's watcher before Node's handle takes the descriptor over.
    const fd = this._sock.detach();
    const sock = new net.Socket({ fd, allowHalfOpen: true, readable: true, writable: true });
    sock.pause();
    if (received !== null && typeof received !== "number") sock.unshift(received);
    return { sock, server: this._server };
  }

  getProtocol(): BaseProtocol {
    return this._protocol;
  }

  /** Whether `pauseWriting()` was sent to the protocol and `resumeWriting()` not yet (for sendfile). */
  _isProtocolPaused(): boolean {
    return this._protocolPaused;
  }

  /**
   * `loop.sendfile` on this transport (CPython's `_sendfile_native`):
   * reading paused, the write buffer drained, then sendfile(2) from `fd`
   * to the socket through the loop's `sockSendfile` (no fallback: the
   * caller falls back on `SendfileNotAvailableError`).
   */
  *_sendfile(fd: number, offset: number, count: number | null): Coroutine<number> {
    const resume = this.isReading();
    this.pauseReading();
    try {
      yield* this._drained();
      return yield* sockSendfile(this._loop as BaseEventLoop, this._sock, fd, offset, count, { fallback: false });
    } finally {
      if (resume && !this._closing) this.resumeReading();
    }
  }

  /** Resolves once the write buffer is empty (CPython's `_make_empty_waiter`); fails if the connection is lost first. */
  private _drained(): Future<void> {
    const fut = this._loop.createFuture<void>();
    if (this._bufferSize === 0) fut.setResult(undefined);
    else this._emptyWaiters.push(fut);
    return fut;
  }

  private _wakeEmptyWaiters(error: Error | null): void {
    const waiters = this._emptyWaiters;
    if (waiters.length === 0) return;
    this._emptyWaiters = [];
    for (const fut of waiters) {
      if (fut.done()) continue;
      if (error === null) fut.setResult(undefined);
      else fut.setException(error);
    }
  }

  override toString(): string {
    const info = [`${this._kind}Transport`];
    if (this._lost) info.push("closed");
    else if (this._closing) info.push("closing");
    info.push(`fd=${this._lastFd}`);
    if (!this._lost) {
      info.push(`read=${this.isReading() ? "polling" : "idle"}`);
      const size = this._bufferSize;
      info.push(`write=<${size > 0 ? "polling" : "idle"}, bufsize=${size}>`);
    }
    return `<${info.join(" ")}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

afterReports(SelectorSocketTransport._receiveAhead);

function setResultUnlessCancelled(waiter: Future<void>): void {
  if (!waiter.done()) waiter.setResult(undefined);
}

/**
 * A native transport on a connected `socket.Socket` handed to the loop
 * (`createConnection({ sock })`, `connectAcceptedSocket`): no Node socket
 * in between. The descriptor is taken from the given object (`detach()`),
 * as the `net` backend takes it, so closing that object later cannot close
 * it under the transport. Resolves once `connectionMade` ran.
 */
export function* socketTransport<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  sock: Socket,
  protocolFactory: () => P,
  what: string,
): Coroutine<[SelectorSocketTransport, P]> {
  if (sock.fileno() < 0) throw new ValueError(`${what}: the socket is closed: ${sock}`);
  if (sock.type !== SOCK_STREAM) throw new ValueError(`${what}: a stream socket was expected, got ${sock}`);
  const protocol = protocolFactory();
  const own = new Socket(sock.family, sock.type, sock.proto, sock.detach());
  const waiter = loop.createFuture<void>();
  const transport = new SelectorSocketTransport(loop, own, protocol, { waiter });
  try {
    yield* waiter;
  } catch (error) {
    transport.close();
    throw error;
  }
  return [transport, protocol];
}

/**
 * Whether a connected Node socket can be handed over to a native transport:
 * a plain TCP or Unix socket (not TLS) that holds no data Node already read.
 * It is paused first, so Node reads nothing more from it.
 */
export function canTakeOver(sock: net.Socket): boolean {
  if ((sock as { encrypted?: unknown }).encrypted === true || sock.destroyed) return false;
  const handle = (sock as unknown as { _handle?: unknown })._handle;
  if (handleFd(handle) < 0) return false;
  sock.pause();
  return sock.readableLength === 0;
}

/**
 * Takes the descriptor of a connected Node socket for a native transport:
 * a duplicate of it in a `socket.Socket`, and Node's socket destroyed (its
 * handle closes the original number; the connection lives on in the
 * duplicate). Node made the connection (its Happy Eyeballs, its accept
 * loop); the transport does all the I/O.
 */
export function takeOver(sock: net.Socket): Socket {
  const fd = handleFd((sock as unknown as { _handle?: unknown })._handle);
  const copy = sys(() => addon().dup(fd));
  let socket: Socket;
  try {
    socket = new Socket(-1, -1, -1, copy);
  } catch (error) {
    sys(() => addon().close(copy));
    throw error;
  }
  sock.destroy();
  return socket;
}
