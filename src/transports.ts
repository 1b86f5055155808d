/**
 * Transports (Python's `asyncio.transports`): the abstract classes a
 * backend's connections implement, and the flow-control logic every
 * writing transport shares (CPython's `_FlowControlMixin`).
 *
 * A transport owns one connection and talks to one protocol. Writes never
 * block and never drop data: they are buffered, and the protocol is asked
 * to `pauseWriting()` once the buffer passes the high-water mark (64 KiB
 * by default) and to `resumeWriting()` once it drains to the low-water mark
 * (a quarter of the high one by default, 16 KiB).
 */
import type { AbstractEventLoop } from "./events.js";
import { RuntimeError, ValueError } from "./exceptions.js";
import { logger } from "./log.js";
import type { Address, BaseProtocol } from "./protocols.js";

/** Options of `setWriteBufferLimits`: bytes; `low` defaults to a quarter of `high`, `high` to 64 KiB (or 4 × `low`). */
export interface WriteBufferLimits {
  high?: number | null;
  low?: number | null;
}

/** The base of every transport: extra information, closing, the protocol. */
export abstract class BaseTransport {
  protected readonly _extra: Record<string, unknown>;

  constructor(extra: Record<string, unknown> = {}) {
    this._extra = extra;
  }

  /**
   * Optional information about the transport: `peername`, `sockname`,
   * `socket`, `sslcontext`, `peercert`, `cipher`, `compression`,
   * `ssl_object`, `pipe`, `subprocess`, ...; `defaultValue` (default
   * `null`) when the transport has no such information.
   */
  getExtraInfo<T = unknown>(name: string, defaultValue: T | null = null): T | null {
    return name in this._extra ? (this._extra[name] as T) : defaultValue;
  }

  /** Whether the transport is closing or closed. */
  abstract isClosing(): boolean;
  /** Closes the transport: buffered data is flushed, then `connectionLost(null)` is called. */
  abstract close(): void;
  /** Makes `protocol` receive the transport's events from now on. */
  abstract setProtocol(protocol: BaseProtocol): void;
  /** The protocol receiving the transport's events. */
  abstract getProtocol(): BaseProtocol;
}

/** A transport that receives data. */
export abstract class ReadTransport extends BaseTransport {
  /** Whether the transport is receiving (not paused and not closing). */
  abstract isReading(): boolean;
  /** Stops delivering data to the protocol until `resumeReading()`; nothing is lost. */
  abstract pauseReading(): void;
  /** Delivers data to the protocol again. */
  abstract resumeReading(): void;
}

/** A transport that sends data. */
export abstract class WriteTransport extends BaseTransport {
  /** Sets the high- and low-water marks of the write buffer (bytes). */
  abstract setWriteBufferLimits(limits?: WriteBufferLimits): void;
  /** The number of bytes buffered, not yet handed to the operating system. */
  abstract getWriteBufferSize(): number;
  /** The `[low, high]` water marks. */
  abstract getWriteBufferLimits(): [number, number];
  /** Sends `data`, buffering what cannot be sent at once; never blocks. */
  abstract write(data: Uint8Array): void;
  /** Sends each chunk in turn, as `write` would. */
  writelines(chunks: Iterable<Uint8Array>): void {
    for (const chunk of chunks) this.write(chunk);
  }
  /** Closes the sending side after the buffered data is flushed (half-close). */
  abstract writeEof(): void;
  /** Whether `writeEof()` is supported by this transport. */
  abstract canWriteEof(): boolean;
  /** Closes at once: buffered data is discarded, `connectionLost(null)` follows. */
  abstract abort(): void;
}

/** A bidirectional stream transport (TCP, Unix sockets, TLS). */
export abstract class Transport extends WriteTransport {
  abstract isReading(): boolean;
  abstract pauseReading(): void;
  abstract resumeReading(): void;
}

/** A datagram transport (UDP). */
export abstract class DatagramTransport extends BaseTransport {
  /** Sends one datagram to `addr` (or to the connected peer when `addr` is omitted). */
  abstract sendto(data: Uint8Array, addr?: Address | null): void;
  /** Closes at once, discarding buffered datagrams. */
  abstract abort(): void;
  /** The number of bytes queued for sending. */
  abstract getWriteBufferSize(): number;
}

/** The transport of a child process. */
export abstract class SubprocessTransport extends BaseTransport {
  /** The child's process id. */
  abstract getPid(): number | null;
  /** The child's exit code: `null` while it runs, negative for a signal. */
  abstract getReturncode(): number | null;
  /** The transport of the child's stdin (0), stdout (1) or stderr (2); `null` if not piped. */
  abstract getPipeTransport(fd: number): BaseTransport | null;
  /** Sends signal `signal` (a number or a name such as `"SIGTERM"`). */
  abstract sendSignal(signal: number | NodeJS.Signals): void;
  /** Sends SIGTERM. */
  abstract terminate(): void;
  /** Sends SIGKILL. */
  abstract kill(): void;
}

/** The default high-water mark of a write buffer (bytes). */
export const DEFAULT_HIGH_WATER = 64 * 1024;

/**
 * Flow control for writing transports (CPython's `_FlowControlMixin`): a
 * transport calls `_maybePauseProtocol()` after buffering and
 * `_maybeResumeProtocol()` after its buffer shrank.
 *
 * Invariant: `_protocolPaused` is true exactly between a `pauseWriting()`
 * and the next `resumeWriting()` sent to the protocol.
 */
export abstract class FlowControlTransport extends Transport {
  protected abstract readonly _loop: AbstractEventLoop;
  protected abstract _protocol: BaseProtocol;
  protected _protocolPaused = false;
  private _highWater = DEFAULT_HIGH_WATER;
  private _lowWater = DEFAULT_HIGH_WATER / 4;

  setWriteBufferLimits(limits: WriteBufferLimits = {}): void {
    const [low, high] = resolveWriteBufferLimits(limits);
    this._highWater = high;
    this._lowWater = low;
    this._maybePauseProtocol();
  }

  getWriteBufferLimits(): [number, number] {
    return [this._lowWater, this._highWater];
  }

  protected _maybePauseProtocol(): void {
    if (this._protocolPaused || this.getWriteBufferSize() <= this._highWater) return;
    this._protocolPaused = true;
    this._callProtocol("pauseWriting");
  }

  protected _maybeResumeProtocol(): void {
    if (!this._protocolPaused || this.getWriteBufferSize() > this._lowWater) return;
    this._protocolPaused = false;
    this._callProtocol("resumeWriting");
  }

  private _callProtocol(method: "pauseWriting" | "resumeWriting"): void {
    try {
      this._protocol[method]();
    } catch (error) {
      this._loop.callExceptionHandler({
        message: `protocol.${method}() failed`,
        exception: error,
        transport: this,
        protocol: this._protocol,
      });
    }
  }
}

/** Checks and completes write-buffer limits as CPython does: `[low, high]`. */
export function resolveWriteBufferLimits({ high = null, low = null }: WriteBufferLimits): [number, number] {
  if (high === null) high = low === null ? DEFAULT_HIGH_WATER : 4 * low;
  if (low === null) low = Math.floor(high / 4);
  if (!(high >= low && low >= 0)) {
    throw new ValueError(`high (${high}) must be >= low (${low}) must be >= 0`);
  }
  return [low, high];
}

/** After this many writes refused on a lost connection, each further one is warned about (asyncio's constant). */
export const LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5;

/** The argument checks of a stream transport's `write()`: bytes only, and nothing after `writeEof()`. */
export function checkWriteData(data: unknown, eofWritten: boolean): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError(`data argument must be a bytes-like object (Uint8Array), not ${data === null ? "null" : typeof data}`);
  }
  if (eofWritten) throw new RuntimeError("Cannot call write() after writeEof()");
}

/**
 * Counts a write refused because the connection is lost (asyncio drops it
 * silently at first, then warns with `message` from the fifth on);
 * returns the new count.
 */
export function countLostWrite(count: number, message = "socket.send() raised exception."): number {
  if (count >= LOG_THRESHOLD_FOR_CONNLOST_WRITES) logger.warn(message);
  return count + 1;
}
