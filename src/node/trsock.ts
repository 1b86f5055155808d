/**
 * `TransportSocket` (Python's `asyncio.trsock.TransportSocket`): the
 * read-only view of a socket that transports (`getExtraInfo("socket")`)
 * and servers (`server.sockets`) hand out, with the socket module's
 * accessors (`getsockname`, `getpeername`, `fileno`, `family`, `type`).
 * Python's view refuses I/O so that user code cannot disturb the
 * transport; this one wraps a Node `net.Socket` (a connection) or
 * `net.Server` (a listener) and exposes it as `nodeSocket` for what Node
 * can do and Python cannot (the TLS part uses it), or, for the transports
 * on raw descriptors (selector_transport.ts), the `socket.Socket` itself.
 */
import type net from "node:net";
import type { Address } from "../protocols.js";
import { AF_INET, AF_INET6, AF_UNIX, IPPROTO_TCP, SOCK_STREAM } from "../socket_constants.js";
import { Socket } from "./socket.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** `[host, port]` for IPv4, `[host, port, 0, 0]` for IPv6, as Python's socket module gives addresses. */
export function inetAddress(host: string | undefined, port: number | undefined, family?: string | number): Address {
  if (host === undefined || port === undefined) return "";
  return family === "IPv6" || family === 6 || (family === undefined && host.includes(":")) ? [host, port, 0, 0] : [host, port];
}

/** The file descriptor of a Node handle (libuv's, on Unix), or -1 once closed. */
export function handleFd(handle: unknown): number {
  const fd = (handle as { fd?: number } | null | undefined)?.fd;
  return typeof fd === "number" ? fd : -1;
}

/** A socket of a transport or server, as Python's `TransportSocket`. */
export class TransportSocket {
  /** The object underneath: a `net.Socket`, a listening `net.Server`, or a raw `socket.Socket`. */
  readonly nodeSocket: net.Socket | net.Server | Socket;
  /** For Unix sockets: the path (Node does not report it). */
  private readonly _unixPath: string | null;
  private readonly _peerPath: string | null;

  constructor(nodeSocket: net.Socket | net.Server | Socket, unix: { path: string; peer: string } | null = null) {
    this.nodeSocket = nodeSocket;
    this._unixPath = unix?.path ?? null;
    this._peerPath = unix?.peer ?? null;
  }

  /** `AF_INET`, `AF_INET6` or `AF_UNIX`. */
  get family(): number {
    if (this.nodeSocket instanceof Socket) return this.nodeSocket.family;
    if (this._unixPath !== null) return AF_UNIX;
    const address = this._localAddress();
    return typeof address === "string" ? AF_UNIX : address.length === 4 ? AF_INET6 : AF_INET;
  }

  /** Always `SOCK_STREAM`: Node's `net` sockets are streams. */
  get type(): number {
    return SOCK_STREAM;
  }

  /** `IPPROTO_TCP` for TCP, 0 for Unix sockets. */
  get proto(): number {
    return this.family === AF_UNIX ? 0 : IPPROTO_TCP;
  }

  /** The file descriptor, or -1 once the socket is closed. */
  fileno(): number {
    if (this.nodeSocket instanceof Socket) return this.nodeSocket.fileno();
    return handleFd((this.nodeSocket as unknown as { _handle?: unknown })._handle);
  }

  /** The local address: `[host, port]`, `[host, port, flowinfo, scopeId]` or a Unix path. */
  getsockname(): Address {
    if (this.nodeSocket instanceof Socket) return this.nodeSocket.fileno() < 0 ? "" : (this.nodeSocket.getsockname() ?? "");
    return this._unixPath ?? this._localAddress();
  }

  /** The peer's address (connections only). */
  getpeername(): Address {
    if (this.nodeSocket instanceof Socket) return this.nodeSocket.fileno() < 0 ? "" : (this.nodeSocket.getpeername() ?? "");
    if (this._peerPath !== null) return this._peerPath;
    const sock = this.nodeSocket as net.Socket;
    if (typeof sock.remoteAddress !== "string") return "";
    return inetAddress(sock.remoteAddress, sock.remotePort, sock.remoteFamily);
  }

  private _localAddress(): Address {
    const node = this.nodeSocket as net.Socket & net.Server;
    if (typeof node.localAddress === "string") return inetAddress(node.localAddress, node.localPort, node.localFamily);
    if (typeof node.listening === "boolean") {
      const address = node.address() as net.AddressInfo | string | null;
      if (typeof address === "string") return address;
      if (address !== null) return inetAddress(address.address, address.port, address.family);
    }
    return "";
  }

  toString(): string {
    const fd = this.fileno();
    if (fd === -1) return "<asyncio.TransportSocket [closed]>";
    const families: Record<number, string> = { [AF_INET]: "AF_INET", [AF_INET6]: "AF_INET6", [AF_UNIX]: "AF_UNIX" };
    const laddr = JSON.stringify(this.getsockname());
    return `<asyncio.TransportSocket fd=${fd}, family=${families[this.family]}, type=SOCK_STREAM, proto=${this.proto}, laddr=${laddr}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}
