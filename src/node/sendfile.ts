/**
 * `loop.sendfile` (CPython's `base_events.sendfile` and its fallback): Node
 * has no zero-copy path from a file to a socket, so the file is read in
 * 16 KiB chunks and written through the transport, with the protocol
 * swapped for one that waits while the transport's buffer is over its
 * high-water mark (asyncio's `_SendfileFallbackProtocol`).
 */
import fs from "node:fs";
import { Coro } from "../coroutines.js";
import type { AbstractEventLoop, FileLike, SendfileOptions } from "../events.js";
import { ConnectionError, RuntimeError, SendfileNotAvailableError, ValueError } from "../exceptions.js";
import type { Coroutine, Future } from "../futures.js";
import type { BaseProtocol } from "../protocols.js";
import { Protocol } from "../protocols.js";
import type { WriteTransport } from "../transports.js";
import { SocketTransport } from "./net_transport.js";
import { nodeFuture } from "./node_futures.js";
import { SelectorSocketTransport } from "./selector_transport.js";

/** The chunk size of the copying sendfile, as asyncio's fallback. */
const SENDFILE_CHUNK = 16 * 1024;

/**
 * Stands in for the transport's protocol while sendfile copies (asyncio's
 * `_SendfileFallbackProtocol`): reading is paused, `drain()` waits while
 * the transport's buffer is over its high-water mark.
 */
class SendfileFallbackProtocol extends Protocol {
  private readonly _transport: SocketTransport | SelectorSocketTransport;
  private readonly _proto: BaseProtocol;
  private readonly _shouldResumeReading: boolean;
  private readonly _shouldResumeWriting: boolean;
  private _writeReady: Future<void> | null = null;

  constructor(loop: AbstractEventLoop, transport: SocketTransport | SelectorSocketTransport) {
    super();
    this._transport = transport;
    this._proto = transport.getProtocol();
    this._shouldResumeReading = transport.isReading();
    this._shouldResumeWriting = transport._isProtocolPaused();
    transport.pauseReading();
    transport.setProtocol(this);
    if (this._shouldResumeWriting) this._writeReady = loop.createFuture<void>();
    this._loop = loop;
  }

  private readonly _loop: AbstractEventLoop;

  *drain(): Coroutine<void> {
    if (this._transport.isClosing()) throw new ConnectionError(undefined, "Connection closed by peer");
    if (this._writeReady !== null) yield* this._writeReady;
  }

  override connectionMade(): void {
    throw new RuntimeError("Invalid state: connection should have been established already.");
  }

  override connectionLost(exc: Error | null): void {
    const ready = this._writeReady;
    if (ready !== null && !ready.done())
      ready.setException(exc ?? new ConnectionError(undefined, "Connection is closed by peer"));
    this._proto.connectionLost(exc);
  }

  override pauseWriting(): void {
    if (this._writeReady === null) this._writeReady = this._loop.createFuture<void>();
  }

  override resumeWriting(): void {
    const ready = this._writeReady;
    this._writeReady = null;
    if (ready !== null && !ready.done()) ready.setResult(undefined);
  }

  override dataReceived(): void {
    throw new RuntimeError("Invalid state: reading should be paused");
  }

  override eofReceived(): void {
    throw new RuntimeError("Invalid state: reading should be paused");
  }

  restore(): void {
    this._transport.setProtocol(this._proto);
    if (this._shouldResumeReading) this._transport.resumeReading();
    const ready = this._writeReady;
    if (ready !== null && !ready.done()) ready.cancel();
    if (this._shouldResumeWriting) this._proto.resumeWriting();
  }
}

function fdOf(file: FileLike): number {
  const fd = typeof file === "number" ? file : (file as { fd?: unknown })?.fd;
  if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0) {
    throw new TypeError(`file must be a file descriptor or have an fd (a fs.promises.FileHandle), not ${typeof file}`);
  }
  return fd;
}

function checkSendfileParams(offset: unknown, count: unknown): void {
  if (typeof offset !== "number" || !Number.isInteger(offset))
    throw new TypeError(`offset must be an integer (got ${String(offset)})`);
  if (offset < 0) throw new ValueError(`offset must be a non-negative integer (got ${offset})`);
  if (count === null || count === undefined) return;
  if (typeof count !== "number" || !Number.isInteger(count))
    throw new TypeError(`count must be an integer (got ${String(count)})`);
  if (count <= 0) throw new ValueError(`count must be a positive integer (got ${count})`);
}

function readChunk(loop: AbstractEventLoop, fd: number, buffer: Buffer, length: number, position: number): Future<number> {
  return nodeFuture<number>(loop, (settle) => {
    fs.read(fd, buffer, 0, length, position, (error, bytesRead) => (error ? settle.reject(error) : settle.resolve(bytesRead)));
    return undefined;
  });
}

function* sendfileFallback(
  loop: AbstractEventLoop,
  transport: SocketTransport | SelectorSocketTransport,
  fd: number,
  offset: number,
  count: number | null,
): Coroutine<number> {
  const proto = new SendfileFallbackProtocol(loop, transport);
  let total = 0;
  try {
    for (;;) {
      const blocksize = count === null ? SENDFILE_CHUNK : Math.min(count - total, SENDFILE_CHUNK);
      if (blocksize <= 0) return total;
      // A fresh buffer per chunk: the transport keeps a reference to what it was given until it is sent.
      const buffer = Buffer.allocUnsafe(blocksize);
      const read = yield* readChunk(loop, fd, buffer, blocksize, offset + total);
      if (read === 0) return total;
      yield* proto.drain();
      transport.write(read === blocksize ? buffer : buffer.subarray(0, read));
      total += read;
    }
  } finally {
    proto.restore();
  }
}

function* sendfileCoroutine(
  loop: AbstractEventLoop,
  transport: WriteTransport,
  file: FileLike,
  offset: number,
  count: number | null,
  options: SendfileOptions,
): Coroutine<number> {
  if (!(transport instanceof SocketTransport) && !(transport instanceof SelectorSocketTransport))
    throw new RuntimeError(`sendfile is not supported for transport ${String(transport)}`);
  if (transport.isClosing()) throw new RuntimeError("Transport is closing");
  checkSendfileParams(offset, count);
  const fd = fdOf(file);
  if (transport instanceof SelectorSocketTransport) {
    // A descriptor of ours: sendfile(2) straight to the socket, as CPython's selector loop (`_sendfile_native`).
    try {
      return yield* transport._sendfile(fd, offset, count);
    } catch (error) {
      if (!(error instanceof SendfileNotAvailableError) || options.fallback === false) throw error;
    }
    return yield* sendfileFallback(loop, transport, fd, offset, count);
  }
  if (options.fallback === false) {
    throw new SendfileNotAvailableError(
      `fallback is disabled and native sendfile is not supported for transport ${transport}: Node has no zero-copy sendfile for sockets`,
    );
  }
  return yield* sendfileFallback(loop, transport, fd, offset, count);
}

/**
 * Python's `loop.sendfile`: sends `count` bytes of `file` (all when
 * `null`) from `offset` through `transport`, and resolves to the number of
 * bytes sent. Node has no zero-copy path to a socket, so the file is read
 * in 16 KiB chunks (positional reads in libuv's thread pool) and written
 * through the transport, waiting whenever its buffer is over the
 * high-water mark; with `fallback: false` it raises
 * `SendfileNotAvailableError`. The file's own position is not used or moved.
 */
export function sendfile(
  loop: AbstractEventLoop,
  transport: WriteTransport,
  file: FileLike,
  offset = 0,
  count: number | null = null,
  options: SendfileOptions = {},
): Coro<number> {
  return new Coro(() => sendfileCoroutine(loop, transport, file, offset, count, options), "sendfile");
}
