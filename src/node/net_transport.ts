/**
 * The stream transport over a Node `net.Socket` (CPython's
 * `_SelectorSocketTransport`): one class for TCP, Unix sockets and TLS.
 * Node's socket events never call the protocol directly: each one is
 * appended to the transport's inbox and one loop callback delivers the
 * inbox inside a loop iteration, in order, so that `stop()`, reading pauses
 * and `close()` keep asyncio's meaning:
 *
 *     connectionMade  dataReceived* | bufferUpdated*  [eofReceived]  connectionLost
 *
 * Data that arrives while the loop is not running waits in the inbox and
 * the socket is paused until the loop runs again, so nothing is lost and
 * nothing piles up. Writes go straight to Node's socket, which buffers
 * what the kernel does not take at once; `getWriteBufferSize()` is the
 * socket's `writableLength`, and the write callbacks tell when the buffer
 * drained below the low-water mark.
 *
 * TLS hooks in here: a `tls.TLSSocket` is a `net.Socket`, so the TLS part
 * constructs this class around the TLS socket once it is connected (after
 * `secureConnect`/`secure`), passing `kind: "TLS"`, the SSL entries of
 * `extra` (`sslcontext`, `peercert`, `cipher`, `ssl_object`, ...) and
 * `canWriteEof: false` (TLS cannot half-close, as in CPython).
 */
import type net from "node:net";
import { type Context, copyContext } from "../contextvars.js";
import type { AbstractEventLoop } from "../events.js";
import { Handle } from "../events.js";
import { OSError, osErrorFrom, RuntimeError } from "../exceptions.js";
import type { Future } from "../futures.js";
import { logger } from "../log.js";
import type { BaseProtocol, BufferedProtocol, Protocol } from "../protocols.js";
import { isBufferedProtocol } from "../protocols.js";
import { checkWriteData, countLostWrite, FlowControlTransport, type Transport } from "../transports.js";
import { handleFd, TransportSocket } from "./trsock.js";
import { restoreBufferScavenging } from "./v8_heap.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** Writes to a lost connection are counted; from this many on each one logs a warning (asyncio's constant). */

/** Inbox markers: the peer's end of file, and the socket's final `close` event. */
const EOF: unique symbol = Symbol("eof");
const LOST: unique symbol = Symbol("lost");
type InboxItem = Buffer | typeof EOF | typeof LOST;

/**
 * Transports whose inbox received something during the current turn of
 * Node's poll phase. Node reports each readable socket in a callback of
 * its own, and a loop woken from each would run one iteration per socket;
 * collected here, they are handed to their loops together right after the
 * poll phase (`setImmediate` runs in the check phase that follows it), so
 * one iteration delivers what one poll brought in.
 */
const pendingDrains: SocketTransport[] = [];
let flushScheduled = false;

function flushDrains(): void {
  flushScheduled = false;
  const transports = pendingDrains.splice(0);
  for (const transport of transports) transport._pushDrain();
}

/** What a transport tells the server that accepted it (Python's `Server._attach`/`_detach`). */
export interface TransportOwner {
  _attach(transport: Transport): void;
  _detach(transport: Transport): void;
}

/** Options of `new SocketTransport`. */
export interface SocketTransportOptions {
  /** The name in reprs: `TCPTransport`, `UnixTransport`, `TLSTransport`. */
  kind?: "TCP" | "Unix" | "TLS";
  /** The server that accepted the connection. */
  server?: TransportOwner | null;
  /** Resolved once `connectionMade` has been called. */
  waiter?: Future<void> | null;
  /** Extra information added to (or replacing) `peername`, `sockname`, `socket`. */
  extra?: Record<string, unknown>;
  /** Whether `writeEof()` is possible (false for TLS). */
  canWriteEof?: boolean;
  /** For Unix sockets: the local and peer paths (Node reports none). */
  unix?: { path: string; peer: string } | null;
  /** TLS hook: `false` when the protocol already had its `connectionMade` (`startTls`). */
  callConnectionMade?: boolean;
  /** TLS hook: how a socket error becomes what `connectionLost` gets (default `osErrorFrom`; TLS maps to `SSLError`). */
  mapError?: (error: unknown) => unknown;
  /** TLS hook: the name of a transport on which `eofReceived()` returning true has no effect (CPython's SSL transports warn and close). */
  closesOnEof?: string | null;
}

function defaultExtra(sock: net.Socket, unix: { path: string; peer: string } | null): Record<string, unknown> {
  const socket = new TransportSocket(sock, unix);
  return { socket, sockname: socket.getsockname(), peername: socket.getpeername() };
}

/**
 * A connected stream (TCP, Unix socket, TLS) as an asyncio transport.
 *
 * Invariants: `connectionMade` is delivered first, `connectionLost` exactly
 * once and last (`_lost`); after `close()`/`abort()` (`_closing`) no data
 * or end of file is delivered; `_head` indexes the first undelivered item
 * of `_inbox`; `_drainScheduled` is true exactly while a delivery callback
 * is queued on the loop.
 */
export class SocketTransport extends FlowControlTransport {
  protected readonly _loop: AbstractEventLoop;
  protected _protocol: BaseProtocol;
  /** The Node socket; TLS subclasses and helpers use it. */
  readonly _sock: net.Socket;
  private readonly _kind: string;
  private _buffered: boolean;
  private readonly _context: Context;
  private readonly _server: TransportOwner | null;
  private _waiter: Future<void> | null;
  private readonly _canWriteEof: boolean;
  private readonly _inbox: InboxItem[] = [];
  private _head = 0;
  private _drainScheduled = false;
  private _resumeScheduled = false;
  /** The protocol's connectionMade has run and the socket reads. */
  private _started = false;
  /** pauseReading() by the protocol. */
  private _paused = false;
  /** The socket is paused because data came while the loop was not running. */
  private _hostPaused = false;
  private _closing = false;
  /** writeEof() was called. */
  private _eof = false;
  private _lost = false;
  /** Writes refused since the connection was lost or closed (`_conn_lost`). */
  private _connLost = 0;
  private _error: Error | null = null;
  private _fd: number;
  private _drainHandle: Handle | null = null;
  /** TLS hooks (see `SocketTransportOptions`). */
  private readonly _callConnectionMade: boolean;
  private readonly _mapError: (error: unknown) => unknown;
  private readonly _closesOnEof: string | null;

  constructor(loop: AbstractEventLoop, sock: net.Socket, protocol: BaseProtocol, options: SocketTransportOptions = {}) {
    super({ ...defaultExtra(sock, options.unix ?? null), ...options.extra });
    restoreBufferScavenging();
    this._loop = loop;
    this._sock = sock;
    this._protocol = protocol;
    this._buffered = isBufferedProtocol(protocol);
    this._kind = options.kind ?? "TCP";
    this._server = options.server ?? null;
    this._waiter = options.waiter ?? null;
    this._canWriteEof = options.canWriteEof ?? true;
    this._callConnectionMade = options.callConnectionMade ?? true;
    this._mapError = options.mapError ?? osErrorFrom;
    this._closesOnEof = options.closesOnEof ?? null;
    this._context = copyContext();
    this._fd = handleFd((sock as unknown as { _handle?: unknown })._handle);
    // Half-close is the protocol's decision (eofReceived), not Node's.
    sock.allowHalfOpen = true;
    if (this._kind === "TCP") sock.setNoDelay(true);
    // While the loop runs its keep-alive holds the process; a stopped loop's sockets must not.
    sock.unref();
    sock.on("end", this._onEnd);
    sock.on("error", this._onError);
    sock.on("close", this._onClose);
    this._server?._attach(this);
    this._loop._callSoonInContext(this._context, this._connectionMade, null);
    // A socket that failed or closed before the transport existed (while waiting to be accepted).
    const early = sock as net.Socket & { errored?: Error | null; closed?: boolean };
    if (early.errored) this._onError(early.errored);
    if (early.closed) this._enqueue(LOST);
  }

  // ---- Node's events: into the inbox ------------------------------------

  private readonly _onData = (chunk: Buffer): void => {
    this._enqueue(chunk);
    if (!this._hostPaused && !this._loop.isRunning()) {
      this._hostPaused = true;
      this._sock.pause();
    }
  };

  private readonly _onEnd = (): void => this._enqueue(EOF);

  private readonly _onError = (error: Error): void => {
    this._error ??= this._mapError(error) as Error;
  };

  private readonly _onClose = (): void => this._enqueue(LOST);

  /** From Node's events: the delivery is scheduled once the poll phase is over (see `pendingDrains`). */
  private _enqueue(item: InboxItem): void {
    this._inbox.push(item);
    if (this._drainScheduled) return;
    this._drainScheduled = true;
    pendingDrains.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushDrains);
    }
  }

  /** From inside the loop (resumeReading): the delivery goes on the ready queue at once. */
  private _scheduleDrain(): void {
    this._drainScheduled = true;
    this._pushDrain();
  }

  /** Puts the delivery on the loop's ready queue; `_drainScheduled` is already set. */
  _pushDrain(): void {
    if (this._loop.isClosed()) {
      // Nobody can receive any more: release the socket.
      this._drainScheduled = false;
      this._sock.destroy();
      return;
    }
    // One Handle per transport, queued again each time: no allocation per chunk received.
    this._drainHandle ??= new Handle(this._drain, null, this._loop, this._context);
    this._loop._scheduleReady(this._drainHandle);
  }

  // ---- delivery, inside loop iterations ---------------------------------

  private readonly _connectionMade = (): void => {
    try {
      if (this._callConnectionMade) this._protocol.connectionMade(this);
    } catch (exception) {
      this._loop.callExceptionHandler({
        message: "protocol.connectionMade() failed",
        exception,
        transport: this,
        protocol: this._protocol,
      });
    }
    this._started = true;
    const waiter = this._waiter;
    this._waiter = null;
    if (waiter !== null && !waiter.done()) waiter.setResult(undefined);
    if (this._closing) return;
    // Attaching the listener starts the flow, unless pauseReading() was called already.
    this._sock.on("data", this._onData);
    // A socket accepted with pauseOnConnect does not start flowing by itself.
    if (this._paused) this._sock.pause();
    else this._sock.resume();
  };

  private readonly _drain = (): void => {
    this._drainScheduled = false;
    const inbox = this._inbox;
    while (this._head < inbox.length) {
      const item = inbox[this._head] as InboxItem;
      if (item === LOST) {
        this._head++;
        this._connectionLost();
        break;
      }
      if (this._closing) {
        // Closed by the protocol: what was not read yet is dropped, as a closed socket drops it.
        this._head++;
        continue;
      }
      if (this._paused) break;
      this._head++;
      if (item === EOF) this._eofReceived();
      else if (this._buffered) this._bufferUpdated(item);
      else this._dataReceived(item);
    }
    if (this._head === inbox.length) {
      inbox.length = 0;
      this._head = 0;
    }
    if (this._hostPaused && !this._paused && !this._closing) {
      this._hostPaused = false;
      this._sock.resume();
    }
  };

  private _dataReceived(data: Buffer): void {
    try {
      (this._protocol as Protocol).dataReceived(data);
    } catch (error) {
      this._fatalError(error, "Fatal error: protocol.dataReceived() call failed.");
    }
  }

  /** BufferedProtocol: copies `data` into the protocol's buffers, as many as it takes. */
  private _bufferUpdated(data: Buffer): void {
    const protocol = this._protocol as BufferedProtocol;
    let offset = 0;
    while (offset < data.length) {
      let buffer: Uint8Array;
      try {
        buffer = protocol.getBuffer(data.length - offset);
        if (!(buffer instanceof Uint8Array)) throw new TypeError(`getBuffer() must return a Uint8Array, not ${typeof buffer}`);
        if (buffer.length === 0) throw new RuntimeError("getBuffer() returned an empty buffer");
      } catch (error) {
        this._fatalError(error, "Fatal error: protocol.getBuffer() call failed.");
        return;
      }
      const n = Math.min(buffer.length, data.length - offset);
      buffer.set(n === data.length ? data : data.subarray(offset, offset + n));
      offset += n;
      try {
        protocol.bufferUpdated(n);
      } catch (error) {
        this._fatalError(error, "Fatal error: protocol.bufferUpdated() call failed.");
        return;
      }
      if (this._closing || !this._buffered) return;
      if (this._paused && offset < data.length) {
        // Paused in the middle of a chunk: the rest waits at the head of the inbox.
        this._inbox[--this._head] = data.subarray(offset);
        return;
      }
    }
  }

  private _eofReceived(): void {
    let keepOpen: unknown;
    try {
      keepOpen = (this._protocol as Protocol).eofReceived();
    } catch (error) {
      this._fatalError(error, "Fatal error: protocol.eofReceived() call failed.");
      return;
    }
    // A protocol that does not keep the transport open gets it closed, as in asyncio.
    if (keepOpen === true && this._closesOnEof !== null) {
      logger.warn(`returning true from eofReceived() has no effect when using ${this._closesOnEof}`);
    }
    if (keepOpen !== true || this._closesOnEof !== null) this.close();
  }

  private _connectionLost(): void {
    if (this._lost) return;
    this._lost = true;
    this._closing = true;
    this._connLost ||= 1;
    this._sock.removeListener("data", this._onData);
    try {
      this._protocol.connectionLost(this._error);
    } catch (exception) {
      this._loop.callExceptionHandler({
        message: "protocol.connectionLost() failed",
        exception,
        transport: this,
        protocol: this._protocol,
      });
    } finally {
      this._server?._detach(this);
    }
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
    if (this._lost || this._sock.destroyed) return;
    this._error ??= error;
    this._closing = true;
    this._connLost++;
    this._sock.destroy();
  }

  // ---- the Transport interface -----------------------------------------

  isReading(): boolean {
    return !this._paused && !this._closing;
  }

  /** Stops delivering data until `resumeReading()`: the socket stops reading, nothing is lost. */
  pauseReading(): void {
    if (this._closing || this._paused) return;
    this._paused = true;
    this._sock.pause();
    if (this._loop.getDebug()) logger.debug(`${this} pauses reading`);
  }

  resumeReading(): void {
    if (this._closing || !this._paused) return;
    this._paused = false;
    if (this._started && !this._hostPaused) this._sock.resume();
    if (this._head < this._inbox.length && !this._drainScheduled) this._scheduleDrain();
    if (this._loop.getDebug()) logger.debug(`${this} resumes reading`);
  }

  /**
   * Sends `data`; never blocks: what the kernel does not take at once is
   * buffered by Node. As in CPython 3.12+, the transport keeps a reference
   * to `data` until it is sent: do not modify a buffer after writing it.
   */
  write(data: Uint8Array): void {
    checkWriteData(data, this._eof);
    if (data.length === 0) return;
    if (this._connLost > 0) {
      this._connLost = countLostWrite(this._connLost);
      return;
    }
    this._sock.write(data, this._afterWrite);
    this._maybePauseProtocol();
  }

  /** Called by Node each time a write reached the kernel: resume a paused protocol once below the low-water mark. */
  private readonly _afterWrite = (): void => {
    if (!this._protocolPaused || this._resumeScheduled || this._lost) return;
    if (this._sock.writableLength > (this.getWriteBufferLimits()[0] as number)) return;
    if (this._loop.isClosed()) return;
    this._resumeScheduled = true;
    this._loop._callSoonInContext(this._context, this._resumeWriting, null);
  };

  private readonly _resumeWriting = (): void => {
    this._resumeScheduled = false;
    if (!this._lost) this._maybeResumeProtocol();
  };

  getWriteBufferSize(): number {
    return this._sock.writableLength;
  }

  /** Half-closes: the peer gets end of file once the buffered data is sent; reading goes on. */
  writeEof(): void {
    if (!this._canWriteEof) throw new RuntimeError(`${this._kind} transports cannot write end of file (half-close)`);
    if (this._closing || this._eof) return;
    this._eof = true;
    this._sock.end();
  }

  canWriteEof(): boolean {
    return this._canWriteEof;
  }

  isClosing(): boolean {
    return this._closing;
  }

  /** Stops reading, flushes what is buffered, then closes; `connectionLost(null)` follows. */
  close(): void {
    if (this._closing) return;
    this._closing = true;
    this._connLost++;
    const sock = this._sock;
    sock.pause();
    if (sock.destroyed) return;
    if (sock.writableFinished) {
      sock.destroy();
      return;
    }
    sock.once("finish", () => sock.destroy());
    if (!sock.writableEnded) sock.end();
  }

  /** Closes at once, dropping buffered data; `connectionLost(null)` follows. */
  abort(): void {
    if (this._lost || this._sock.destroyed) return;
    this._closing = true;
    this._connLost++;
    this._sock.destroy();
  }

  setProtocol(protocol: BaseProtocol): void {
    this._protocol = protocol;
    this._buffered = isBufferedProtocol(protocol);
  }

  getProtocol(): BaseProtocol {
    return this._protocol;
  }

  /** Whether `pauseWriting()` was sent to the protocol and `resumeWriting()` not yet (for sendfile). */
  _isProtocolPaused(): boolean {
    return this._protocolPaused;
  }

  // ---- TLS hook: handing the socket over to startTls (tls.ts) -------------

  /**
   * Gives the socket up to `startTls`: no more events are delivered to the
   * protocol, data received but not yet delivered goes back into the socket
   * (the TLS layer reads it first), and the transport counts as closed
   * without `connectionLost`. The server, if any, still counts this
   * transport until the caller detaches it.
   */
  _detachForTls(): { sock: net.Socket; server: TransportOwner | null } {
    const pending = this._inbox.slice(this._head);
    if (this._closing || this._lost || this._eof || this._sock.destroyed) {
      throw new RuntimeError(`${this} is closing or half-closed: startTls() needs a live connection`);
    }
    if (pending.some((item) => !Buffer.isBuffer(item))) {
      throw new RuntimeError(`the peer of ${this} closed the connection: startTls() needs a live connection`);
    }
    const sock = this._sock;
    sock.removeListener("data", this._onData);
    sock.removeListener("end", this._onEnd);
    sock.removeListener("error", this._onError);
    sock.removeListener("close", this._onClose);
    sock.pause();
    for (let i = pending.length - 1; i >= 0; i--) sock.unshift(pending[i] as Buffer);
    this._inbox.length = 0;
    this._head = 0;
    this._closing = true;
    this._lost = true;
    this._connLost = 1;
    return { sock, server: this._server };
  }

  override toString(): string {
    const info = [`${this._kind}Transport`];
    if (this._lost) info.push("closed");
    else if (this._closing) info.push("closing");
    const fd = handleFd((this._sock as unknown as { _handle?: unknown })._handle);
    if (fd !== -1) this._fd = fd;
    info.push(`fd=${this._fd}`);
    if (!this._lost) {
      info.push(`read=${this.isReading() ? "polling" : "idle"}`);
      const size = this.getWriteBufferSize();
      info.push(`write=<${size > 0 ? "polling" : "idle"}, bufsize=${size}>`);
    }
    return `<${info.join(" ")}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}
