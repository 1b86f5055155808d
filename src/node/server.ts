/**
 * `Server` (Python's `asyncio.base_events.Server`, 3.13 semantics): the
 * listening sockets made by `createServer`/`createUnixServer`, each a Node
 * `net.Server`, and the connections they accepted. `close()` stops
 * listening and leaves the connections open; `waitClosed()` waits until the
 * server is closed and every connection has ended; `closeClients()` and
 * `abortClients()` end them.
 *
 * Accepting happens inside the loop: Node's `connection` event only queues
 * the new socket (unread) on the loop; the protocol factory runs, and the
 * transport is made, in a loop iteration. A server made with
 * `startServing: false` is bound and listening in Node (Node cannot bind
 * without listening), but holds the connections the kernel completes until
 * `startServing()`/`serveForever()`, so none is served early.
 */
import type net from "node:net";
import { Coro } from "../coroutines.js";
import type { AbstractEventLoop } from "../events.js";
import { AbstractServer } from "../events.js";
import { CancelledError, RuntimeError } from "../exceptions.js";
import type { Coroutine, Future } from "../futures.js";
import type { BaseProtocol } from "../protocols.js";
import { sleep } from "../tasks.js";
import type { Transport } from "../transports.js";
import type { TransportOwner } from "./net_transport.js";
import { TransportSocket } from "./trsock.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** Makes the transport of an accepted connection (plain here; the TLS part passes its own). */
export type AcceptedTransportFactory = (
  loop: AbstractEventLoop,
  sock: net.Socket,
  protocol: BaseProtocol,
  server: TransportOwner,
) => void;

/** Options of `new Server`. */
export interface ServerOptions {
  backlog: number;
  makeTransport: AcceptedTransportFactory;
  /** For Unix servers: the socket path of each listener (Node does not report it). */
  unixPaths?: (string | null)[];
}

/**
 * A server accepting stream connections (Python's `asyncio.Server`).
 *
 * Invariants: `_listeners` is `null` exactly once the server is closed;
 * `_waiters` is `null` exactly once the server is closed and has no
 * client left (then `waitClosed()` returns at once).
 *
 * @example
 * const server = await loop.createServer(() => new Echo(), { host: "127.0.0.1", port: 0 });
 * const [host, port] = server.sockets[0].getsockname();
 * await using _ = server; // closed and waited for at the end of the scope
 */
export class Server extends AbstractServer implements TransportOwner {
  private readonly _loop: AbstractEventLoop;
  private _listeners: net.Server[] | null;
  private readonly _sockets: TransportSocket[];
  private readonly _protocolFactory: () => BaseProtocol;
  private readonly _options: ServerOptions;
  private readonly _clients = new Set<Transport>();
  private _waiters: Future<void>[] | null = [];
  private _serving = false;
  private _servingForeverFut: Future<void> | null = null;
  /** Connections completed by the kernel before `startServing()`. */
  private _held: net.Socket[] = [];

  constructor(loop: AbstractEventLoop, listeners: net.Server[], protocolFactory: () => BaseProtocol, options: ServerOptions) {
    super();
    this._loop = loop;
    this._listeners = listeners;
    this._protocolFactory = protocolFactory;
    this._options = options;
    this._sockets = listeners.map((listener, i) => {
      const path = options.unixPaths?.[i] ?? null;
      return new TransportSocket(listener, path === null ? null : { path, peer: "" });
    });
    for (const listener of listeners) {
      listener.unref();
      listener.on("connection", this._onConnection);
    }
  }

  private readonly _onConnection = (sock: net.Socket): void => {
    sock.unref();
    // Until its transport exists an error must not crash the process; the transport reads `errored`.
    sock.on("error", ignoreError);
    // Unread until accepted inside the loop: the socket has no 'data' listener yet.
    if (this._listeners === null || this._loop.isClosed()) {
      sock.destroy();
      return;
    }
    if (!this._serving) {
      this._held.push(sock);
      return;
    }
    this._loop.callSoon(this._accept, sock);
  };

  /** Python's `_accept_connection2`: the protocol and the transport of one connection, inside the loop. */
  private readonly _accept = (sock: net.Socket): void => {
    if (this._listeners === null) {
      sock.destroy();
      return;
    }
    let protocol: BaseProtocol;
    try {
      protocol = this._protocolFactory();
    } catch (exception) {
      sock.destroy();
      this._loop.callExceptionHandler({
        message: "Error on transport creation for incoming connection",
        exception,
        socket: sock,
      });
      return;
    }
    this._options.makeTransport(this._loop, sock, protocol, this);
  };

  _attach(transport: Transport): void {
    this._clients.add(transport);
  }

  _detach(transport: Transport): void {
    this._clients.delete(transport);
    if (this._clients.size === 0 && this._listeners === null) this._wakeup();
  }

  private _wakeup(): void {
    const waiters = this._waiters;
    this._waiters = null;
    for (const waiter of waiters ?? []) if (!waiter.done()) waiter.setResult(undefined);
  }

  private _startServing(): void {
    if (this._serving || this._listeners === null) return;
    this._serving = true;
    const held = this._held;
    this._held = [];
    for (const sock of held) this._loop.callSoon(this._accept, sock);
  }

  getLoop(): AbstractEventLoop {
    return this._loop;
  }

  isServing(): boolean {
    return this._serving;
  }

  /** The listening sockets (`TransportSocket`s: `getsockname()`, `fileno()`, ...); empty once closed. */
  get sockets(): readonly TransportSocket[] {
    return this._listeners === null ? [] : [...this._sockets];
  }

  /** Stops listening; accepted connections stay open (see `closeClients`, `waitClosed`). */
  close(): void {
    const listeners = this._listeners;
    if (listeners === null) return;
    this._listeners = null;
    for (const listener of listeners) {
      listener.removeListener("connection", this._onConnection);
      listener.close();
    }
    for (const sock of this._held) sock.destroy();
    this._held = [];
    this._serving = false;
    const forever = this._servingForeverFut;
    if (forever !== null && !forever.done()) {
      forever.cancel();
      this._servingForeverFut = null;
    }
    if (this._clients.size === 0) this._wakeup();
  }

  /** Closes every accepted connection (each flushes its buffered writes first). */
  closeClients(): void {
    for (const transport of [...this._clients]) transport.close();
  }

  /** Aborts every accepted connection at once. */
  abortClients(): void {
    for (const transport of [...this._clients]) transport.abort();
  }

  /** Starts accepting connections (a no-op if serving); resolves after one loop iteration. */
  startServing(): Coro<void> {
    return new Coro(() => this._startServingCoroutine(), "Server.startServing");
  }

  private *_startServingCoroutine(): Coroutine<void> {
    this._startServing();
    yield* sleep(0);
  }

  /** Accepts connections until cancelled; the cancellation closes the server and waits for it. */
  serveForever(): Coro<void> {
    return new Coro(() => this._serveForeverCoroutine(), "Server.serveForever");
  }

  private *_serveForeverCoroutine(): Coroutine<void> {
    if (this._servingForeverFut !== null) throw new RuntimeError(`server ${this} is already being awaited on serveForever()`);
    if (this._listeners === null) throw new RuntimeError(`server ${this} is closed`);
    this._startServing();
    const forever = this._loop.createFuture<void>();
    this._servingForeverFut = forever;
    try {
      yield* forever;
    } catch (error) {
      if (error instanceof CancelledError) {
        try {
          this.close();
          yield* this._waitClosedCoroutine();
        } finally {
          // biome-ignore lint/correctness/noUnsafeFinally: Python's serve_forever re-raises the cancellation after closing, whatever the wait did
          throw error;
        }
      }
      throw error;
    } finally {
      if (this._servingForeverFut === forever) this._servingForeverFut = null;
    }
  }

  /** Waits until the server is closed and every accepted connection has ended (returns at once if that is so). */
  waitClosed(): Coro<void> {
    return new Coro(() => this._waitClosedCoroutine(), "Server.waitClosed");
  }

  private *_waitClosedCoroutine(): Coroutine<void> {
    if (this._waiters === null) return;
    const waiter = this._loop.createFuture<void>();
    this._waiters.push(waiter);
    yield* waiter;
  }

  override toString(): string {
    return `<Server sockets=[${this.sockets.map(String).join(", ")}]>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

function ignoreError(): void {}
