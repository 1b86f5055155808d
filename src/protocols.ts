/**
 * Protocols (Python's `asyncio.protocols`): the classes user code extends
 * to receive a transport's events. Every method has an empty default, so a
 * protocol overrides only what it needs. The call order a transport
 * guarantees is asyncio's state machine:
 *
 *     connectionMade  dataReceived*  [eofReceived]  connectionLost
 *
 * `connectionMade` once, any number of `dataReceived`, `eofReceived` at
 * most once, `connectionLost` exactly once (with `null` for a normal close
 * or the error that ended the connection). `pauseWriting`/`resumeWriting`
 * alternate, starting with `pauseWriting`, and stop after `connectionLost`.
 */
import type { BaseTransport, DatagramTransport, SubprocessTransport, Transport } from "./transports.js";

/** A peer address: `[host, port]` for IPv4, `[host, port, flowinfo, scopeId]` for IPv6, a path for Unix sockets. */
export type Address = [string, number] | [string, number, number, number] | string;

/** What every protocol receives: connection and flow-control events. */
export class BaseProtocol {
  /** The connection is made; `transport` is the connection. */
  connectionMade(_transport: BaseTransport): void {}
  /** The connection is lost or closed: `null` for a normal close, else the error. */
  connectionLost(_exc: Error | null): void {}
  /** The transport's write buffer went over its high-water mark: stop writing. */
  pauseWriting(): void {}
  /** The transport's write buffer drained below its low-water mark: write again. */
  resumeWriting(): void {}
}

/** A stream protocol (TCP, Unix sockets, pipes, TLS). */
export class Protocol extends BaseProtocol {
  override connectionMade(_transport: Transport): void {}
  /** Some bytes arrived; `data` is a `Buffer` the protocol may keep. */
  dataReceived(_data: Buffer): void {}
  /**
   * The peer sent end of file (half-close). Return `true` to keep the
   * transport open for writing; anything else closes it.
   */
  eofReceived(): boolean | undefined | void {}
}

/**
 * A stream protocol that supplies its own receive buffer: the transport
 * fills the buffer `getBuffer` returns, then calls `bufferUpdated` with the
 * number of bytes written into it.
 */
export class BufferedProtocol extends BaseProtocol {
  override connectionMade(_transport: Transport): void {}
  /** A buffer to receive into, of at least one byte; `sizehint` is what would be convenient (-1: any). */
  getBuffer(_sizehint: number): Uint8Array {
    throw new TypeError(`${this.constructor.name}.getBuffer() must be overridden to return a Uint8Array`);
  }
  /** `nbytes` bytes were written at the start of the last buffer `getBuffer` returned. */
  bufferUpdated(_nbytes: number): void {}
  /** As `Protocol.eofReceived`: return `true` to keep the transport open for writing. */
  eofReceived(): boolean | undefined | void {}
}

/** A datagram protocol (UDP, Unix datagram sockets). */
export class DatagramProtocol extends BaseProtocol {
  override connectionMade(_transport: DatagramTransport): void {}
  /** A datagram arrived from `addr`. */
  datagramReceived(_data: Buffer, _addr: Address): void {}
  /** A previous send or receive failed (for example an ICMP port unreachable); the endpoint stays open. */
  errorReceived(_exc: Error): void {}
}

/** The protocol of a child process started by `subprocessExec`/`subprocessShell`. */
export class SubprocessProtocol extends BaseProtocol {
  override connectionMade(_transport: SubprocessTransport): void {}
  /** The child wrote `data` to its stdout (`fd` 1) or stderr (`fd` 2). */
  pipeDataReceived(_fd: number, _data: Buffer): void {}
  /** One of the child's pipes closed (`fd` 0, 1 or 2). */
  pipeConnectionLost(_fd: number, _exc: Error | null): void {}
  /** The child exited and all its pipes are closed. */
  processExited(): void {}
}

/** Whether `protocol` receives data through `getBuffer`/`bufferUpdated`. */
export function isBufferedProtocol(protocol: BaseProtocol): protocol is BufferedProtocol {
  return (
    typeof (protocol as BufferedProtocol).getBuffer === "function" && typeof (protocol as Protocol).dataReceived !== "function"
  );
}
