/**
 * `Server` (Python's `asyncio.base_events.Server`, 3.13 semantics): the
 * listening sockets made by `createServer`/`createUnixServer` (listeners.ts:
 * raw sockets the loop accepts on, or Node `net.Server`s) and the
 * connections they accepted. `close()` stops listening and leaves the
 * connections open; `waitClosed()` waits until the server is closed and
 * every connection has ended; `closeClients()` and `abortClients()` end
 * them.
 *
 * Accepting happens inside the loop: the protocol factory runs, and the
 * transport is made, in a loop iteration (`_connectionAccepted`). A server
 * made with `startServing: false` serves no connection until
 * `startServing()`/`serveForever()`.
 */
import { Coro } from "../coroutines.js";
import type { AbstractEventLoop } from "../events.js";
import { AbstractServer } from "../events.js";
import { CancelledError, RuntimeError } from "../exceptions.js";
import type { Coroutine, Future } from "../futures.js";
import type { BaseProtocol } from "../protocols.js";
import { sleep } from "../tasks.js";
import type { Transport } from "../transports.js";
import type { Listener, ListenerOwner } from "./listeners.js";
import type { TransportSocket } from "./trsock.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

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
export class Server extends AbstractServer implements ListenerOwner {
  private readonly _loop: AbstractEventLoop;
  private _listeners: Listener[] | null;
  private readonly _sockets: TransportSocket[];
  private readonly _protocolFactory: () => BaseProtocol;
  private readonly _clients = new Set<Transport>();
  private _waiters: Future<void>[] | null = [];
  private _serving = false;
  private _servingForeverFut: Future<void> | null = null;

  constructor(loop: AbstractEventLoop, listeners: Listener[], protocolFactory: () => BaseProtocol) {
    super();
    this._loop = loop;
    this._listeners = listeners;
    this._protocolFactory = protocolFactory;
    this._sockets = listeners.map((listener) => listener.socket);
  }

  /** Python's `_accept_connection2`: the protocol and the transport of one connection, inside the loop. */
  _connectionAccepted(makeTransport: (protocol: BaseProtocol) => void, discard: () => void, sock: unknown): void {
    if (this._listeners === null) {
      discard();
      return;
    }
    let protocol: BaseProtocol;
    try {
      protocol = this._protocolFactory();
    } catch (exception) {
      discard();
      this._loop.callExceptionHandler({
        message: "Error on transport creation for incoming connection",
        exception,
        socket: sock,
      });
      return;
    }
    makeTransport(protocol);
  }

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
    for (const listener of this._listeners) listener.startServing(this);
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
    for (const listener of listeners) listener.close();
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
