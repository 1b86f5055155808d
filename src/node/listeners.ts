/**
 * The listening sockets of a `Server` (server.ts), in two kinds.
 * `SelectorListener` is a raw listening socket that the loop polls and
 * accepts on itself, in batches of up to `backlog` connections per
 * readiness report (CPython's `_start_serving` / `_accept_connection` of
 * selector_events.py); each connection goes straight to a native
 * `SelectorSocketTransport`, with no Node socket ever made. It serves plain
 * TCP and Unix servers of a loop whose transports are native. As in
 * CPython, it is bound when the server is made and listens from
 * `startServing()` on. `NodeListener` is a Node `net.Server`: it serves TLS
 * servers, the `net` backend, and a `net.Server` handed in as `sock`. Node
 * cannot bind without listening, so it holds the connections the kernel
 * completes before `startServing()`.
 */
import fs from "node:fs";
import type net from "node:net";
import os from "node:os";
import type { BaseEventLoop } from "../base_events.js";
import type { AbstractEventLoop, TimerHandle } from "../events.js";
import type { BaseProtocol } from "../protocols.js";
import { addon, errnoError } from "./addon.js";
import { FdWatch } from "./fd_watch.js";
import type { TransportOwner } from "./net_transport.js";
import { SelectorSocketTransport } from "./selector_transport.js";
import { Socket } from "./socket.js";
import { TransportSocket } from "./trsock.js";

/** CPython's `ACCEPT_RETRY_DELAY`: after running out of descriptors, accepting resumes this many seconds later. */
export const ACCEPT_RETRY_DELAY = 1;

/** The server a listener hands its connections to. */
export interface ListenerOwner extends TransportOwner {
  /**
   * One accepted connection, inside a loop iteration: the owner makes its
   * protocol and calls `makeTransport(protocol)`, or `discard()` when it
   * is closed or the protocol factory failed. `sock` is for error reports.
   */
  _connectionAccepted(makeTransport: (protocol: BaseProtocol) => void, discard: () => void, sock: unknown): void;
}

/** A listening socket of a server. */
export interface Listener {
  /** What `server.sockets` shows for it. */
  readonly socket: TransportSocket;
  /** Starts accepting connections for `owner` (once). */
  startServing(owner: ListenerOwner): void;
  /** Stops accepting and closes the listening socket (connections already accepted stay). */
  close(): void;
}

/** Makes the transport of a connection a `net.Server` accepted (plain here; the TLS part passes its own). */
export type AcceptedTransportFactory = (
  loop: AbstractEventLoop,
  sock: net.Socket,
  protocol: BaseProtocol,
  server: TransportOwner,
) => void;

// ---- raw listening sockets --------------------------------------------------

const errno = os.constants.errno;
/** accept(2) errors that mean "this connection is gone, try the next report" (CPython ignores them too). */
const RETRY_LATER = new Set([errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR, errno.ECONNABORTED, errno.EPROTO]);
/** accept(2) errors that mean the process is out of a resource: pause accepting, as CPython does. */
const OUT_OF_RESOURCES = new Set([errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM]);

/** A Unix socket file to remove when the server closes, if it is still the one bound (3.13's `cleanup_socket`). */
export interface UnixCleanup {
  path: string;
  inode: number;
}

/** A listening socket polled by the loop (CPython's selector-event server socket). */
export class SelectorListener implements Listener {
  readonly socket: TransportSocket;
  private readonly _loop: AbstractEventLoop;
  private readonly _sock: Socket;
  private readonly _fd: number;
  private readonly _backlog: number;
  private readonly _cleanup: UnixCleanup | null;
  private _owner: ListenerOwner | null = null;
  private _retry: TimerHandle | null = null;
  private _closed = false;

  /** `sock` is bound (not yet listening) and now belongs to the listener. */
  constructor(loop: AbstractEventLoop, sock: Socket, backlog: number, cleanup: UnixCleanup | null = null) {
    this._loop = loop;
    this._sock = sock;
    this._fd = sock.fileno();
    this._backlog = Math.max(1, backlog);
    this._cleanup = cleanup;
    sock.setblocking(false);
    this.socket = new TransportSocket(sock);
  }

  startServing(owner: ListenerOwner): void {
    if (this._closed || this._owner !== null) return;
    this._owner = owner;
    this._sock.listen(this._backlog);
    this._watch();
  }

  private _watch(): void {
    FdWatch.of(this._loop as BaseEventLoop).addReader(this._fd, this._acceptReady, []);
  }

  /** One readiness report: accept until the kernel has no more, at most `backlog` at a time. */
  private readonly _acceptReady = (): void => {
    const native = addon();
    for (let i = 0; i < this._backlog && !this._closed; i++) {
      const result = native.accept(this._fd);
      if (typeof result === "number") {
        this._acceptFailed(-result);
        return;
      }
      this._accepted(result[0]);
    }
  };

  private _accepted(fd: number): void {
    let conn: Socket;
    try {
      conn = new Socket(this._sock.family, this._sock.type, this._sock.proto, fd);
    } catch (error) {
      addon().close(fd);
      throw error;
    }
    const owner = this._owner as ListenerOwner;
    const loop = this._loop;
    owner._connectionAccepted(
      (protocol) => new SelectorSocketTransport(loop, conn, protocol, { server: owner }),
      () => conn.close(),
      conn,
    );
  }

  private _acceptFailed(code: number): void {
    if (RETRY_LATER.has(code)) return;
    const exception = errnoError(code, "accept");
    if (!OUT_OF_RESOURCES.has(code)) throw exception;
    // Out of descriptors (or memory): stop polling for a while, or the report would come back at once, forever.
    this._loop.callExceptionHandler({ message: "socket.accept() out of system resource", exception, socket: this.socket });
    FdWatch.of(this._loop as BaseEventLoop).removeReader(this._fd);
    this._retry = this._loop.callLater(ACCEPT_RETRY_DELAY, () => {
      this._retry = null;
      if (!this._closed) this._watch();
    });
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._retry?.cancel();
    this._retry = null;
    if (!this._loop.isClosed()) FdWatch.of(this._loop as BaseEventLoop).removeReader(this._fd);
    this._sock.close();
    if (this._cleanup !== null) removeIfStillBound(this._cleanup);
  }
}

/** Removes the socket file of a closed Unix server unless another socket was bound there since. */
function removeIfStillBound({ path, inode }: UnixCleanup): void {
  try {
    if (fs.statSync(path).ino === inode) fs.unlinkSync(path);
  } catch {
    // Already gone (or unreachable): nothing to clean up, as in CPython.
  }
}

// ---- Node net.Server listeners ------------------------------------------------

/** A Node `net.Server` as a server's listening socket. */
export class NodeListener implements Listener {
  readonly socket: TransportSocket;
  private readonly _loop: AbstractEventLoop;
  private readonly _server: net.Server;
  private readonly _makeTransport: AcceptedTransportFactory;
  private _owner: ListenerOwner | null = null;
  private _closed = false;
  /** Connections the kernel completed before `startServing()`. */
  private _held: net.Socket[] = [];

  constructor(loop: AbstractEventLoop, server: net.Server, makeTransport: AcceptedTransportFactory, unixPath: string | null) {
    this._loop = loop;
    this._server = server;
    this._makeTransport = makeTransport;
    this.socket = new TransportSocket(server, unixPath === null ? null : { path: unixPath, peer: "" });
    server.unref();
    server.on("connection", this._onConnection);
  }

  private readonly _onConnection = (sock: net.Socket): void => {
    sock.unref();
    // Until its transport exists an error must not crash the process; the transport reads `errored`.
    sock.on("error", ignoreError);
    // Unread until accepted inside the loop: the socket has no 'data' listener yet.
    if (this._closed || this._loop.isClosed()) {
      sock.destroy();
      return;
    }
    if (this._owner === null) {
      this._held.push(sock);
      return;
    }
    this._loop.callSoon(this._accept, sock);
  };

  /** Python's `_accept_connection2`: inside the loop, the connection gets its protocol and transport. */
  private readonly _accept = (sock: net.Socket): void => {
    const owner = this._owner as ListenerOwner;
    owner._connectionAccepted(
      (protocol) => this._makeTransport(this._loop, sock, protocol, owner),
      () => sock.destroy(),
      sock,
    );
  };

  startServing(owner: ListenerOwner): void {
    if (this._closed || this._owner !== null) return;
    this._owner = owner;
    const held = this._held;
    this._held = [];
    for (const sock of held) this._loop.callSoon(this._accept, sock);
  }

  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._server.removeListener("connection", this._onConnection);
    this._server.close();
    for (const sock of this._held) sock.destroy();
    this._held = [];
  }
}

function ignoreError(): void {}
