/**
 * Unix socket connections and servers (Python's `unix_events`
 * `create_unix_connection`/`create_unix_server`): the same transport and
 * server as TCP, on a path. Node silently shortens an over-long path, so
 * the length is checked here (an `OSError`); a stale socket file is
 * removed before binding. A native server binds a raw socket and removes
 * its file on close unless another socket was bound there since
 * (`cleanupSocket`, 3.13); a `net.Server`'s file is removed by libuv.
 */
import fs from "node:fs";
import net from "node:net";
import { Coro } from "../coroutines.js";
import type { AbstractEventLoop, CreateUnixConnectionOptions, CreateUnixServerOptions, SocketLike } from "../events.js";
import { OSError, osErrorFrom, ValueError } from "../exceptions.js";
import type { Coroutine, Future } from "../futures.js";
import type { BaseProtocol } from "../protocols.js";
import { AF_UNIX, SOCK_STREAM } from "../socket_constants.js";
import type { Transport } from "../transports.js";
import { type Listener, SelectorListener } from "./listeners.js";
import { nodeFuture } from "./node_futures.js";
import { socketTransport, usesNativeTransports } from "./selector_transport.js";
import { Server } from "./server.js";
import { Socket } from "./socket.js";
import {
  adoptListener,
  adoptSocket,
  checkServerSsl,
  checkSslOptions,
  connected,
  connectionTransport,
  connectRaw,
  DEFAULT_BACKLOG,
  ignoreError,
  newListener,
  nodeListener,
  rawTransport,
  rewordedError,
  servesNatively,
  tlsTransport,
} from "./tcp.js";

/** The longest Unix socket path Linux takes (`sun_path` is 108 bytes with its terminating NUL). */
export const UNIX_PATH_MAX = 107;

function checkUnixPath(path: unknown, what: string): string {
  if (typeof path !== "string")
    throw new TypeError(`${what}: path must be a string, not ${path === null ? "null" : typeof path}`);
  const length = Buffer.byteLength(path);
  if (length > UNIX_PATH_MAX) {
    throw new OSError(22, `AF_UNIX path too long (${length} bytes, at most ${UNIX_PATH_MAX})`, {
      code: "EINVAL",
      filename: path,
    });
  }
  return path;
}

/** Connects a Node socket to `path` (TLS, the `net` backend). */
function connectNode(loop: AbstractEventLoop, path: string): Future<net.Socket> {
  return nodeFuture<net.Socket>(
    loop,
    (settle) => {
      const s = net.connect({ path, allowHalfOpen: true });
      s.unref();
      // Node reads nothing before a transport takes the socket (a native one takes its descriptor).
      s.pause();
      s.once("error", (error) => {
        s.destroy();
        settle.reject(rewordedError(error, () => `Connect call failed ${path}`));
      });
      s.once("connect", () => {
        s.removeAllListeners("error");
        s.on("error", ignoreError);
        settle.resolve(s);
      });
      return () => s.destroy();
    },
    path,
  );
}

function* createUnixConnectionCoroutine<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  options: CreateUnixConnectionOptions,
): Coroutine<[Transport, P]> {
  checkSslOptions(options);
  const ssl = options.ssl ?? null;
  if (ssl !== null && ssl !== false && (options.serverHostname ?? null) === null) {
    throw new ValueError("you have to pass serverHostname when using ssl");
  }
  const rawPath = options.path ?? null;
  let sock: net.Socket;
  let path = "";
  if (rawPath !== null) {
    if ((options.sock ?? null) !== null) throw new ValueError("path and sock can not be specified at the same time");
    path = checkUnixPath(rawPath, "createUnixConnection()");
    if ((ssl === null || ssl === false) && usesNativeTransports(loop)) {
      return yield* rawTransport(
        loop,
        yield* connectRaw(loop, AF_UNIX, path, null, path),
        protocolFactory,
        "createUnixConnection()",
      );
    }
    sock = yield* connectNode(loop, path);
  } else {
    if ((options.sock ?? null) === null) throw new ValueError("no path and sock were specified");
    if ((ssl === null || ssl === false) && options.sock instanceof Socket && usesNativeTransports(loop)) {
      return yield* socketTransport(loop, options.sock, protocolFactory, "createUnixConnection()");
    }
    sock = adoptSocket(options.sock as SocketLike, "createUnixConnection()");
    yield* connected(loop, sock);
  }
  if (ssl !== null && ssl !== false) return yield* tlsTransport(loop, sock, protocolFactory, options, null);
  return yield* connectionTransport(loop, sock, protocolFactory, "Unix", { path: "", peer: path });
}

/** Python's `loop.create_unix_connection`: connects to the Unix socket at `path`. */
export function createUnixConnection<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  options: CreateUnixConnectionOptions = {},
): Coro<[Transport, P]> {
  return new Coro(() => createUnixConnectionCoroutine(loop, protocolFactory, options), "createUnixConnection");
}

/** Removes a stale socket file at `path` (only a socket: anything else is left for listen to refuse). */
function removeStaleSocket(path: string): void {
  if (path.startsWith("\0")) return;
  try {
    if (fs.statSync(path).isSocket()) fs.unlinkSync(path);
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") throw osErrorFrom(error, path);
  }
}

/** Binds a raw Unix socket to `path`; it listens once the server starts serving. */
function bindRawUnix(loop: AbstractEventLoop, path: string, options: CreateUnixServerOptions): Listener {
  const sock = new Socket(AF_UNIX, SOCK_STREAM, 0);
  let inode: number;
  try {
    sock.bind(path);
    inode = path.startsWith("\0") ? -1 : fs.statSync(path).ino;
  } catch (error) {
    sock.close();
    throw osErrorFrom(error, path);
  }
  const cleanup = inode >= 0 && options.cleanupSocket !== false ? { path, inode } : null;
  return new SelectorListener(loop, sock, options.backlog ?? DEFAULT_BACKLOG, cleanup);
}

/** Listens on `path` with a Node `net.Server` (libuv removes the file when it closes). */
function listenOnNode(loop: AbstractEventLoop, path: string, backlog: number): Future<net.Server> {
  return nodeFuture<net.Server>(
    loop,
    (settle) => {
      const l = newListener();
      l.once("error", (error) => {
        l.close();
        settle.reject(error);
      });
      l.listen({ path, backlog }, () => {
        l.removeAllListeners("error");
        settle.resolve(l);
      });
      return () => l.close();
    },
    path,
  );
}

function* createUnixServerCoroutine(
  loop: AbstractEventLoop,
  protocolFactory: () => BaseProtocol,
  options: CreateUnixServerOptions,
): Coroutine<Server> {
  if ((options.ssl ?? null) === null && (options.sslHandshakeTimeout ?? null) !== null) {
    throw new ValueError("sslHandshakeTimeout is only meaningful with ssl");
  }
  const native = servesNatively(loop, options);
  if (options.cleanupSocket === false && !native) {
    throw new ValueError(
      "cleanupSocket: false is not possible with Node's net.Server (TLS, or the net transports): libuv removes the socket file when a Unix server closes",
    );
  }
  checkServerSsl(options);
  const backlog = options.backlog ?? DEFAULT_BACKLOG;
  const rawPath = options.path ?? null;
  let listener: Listener;
  if (rawPath !== null) {
    if ((options.sock ?? null) !== null) throw new ValueError("path and sock can not be specified at the same time");
    const path = checkUnixPath(rawPath, "createUnixServer()");
    removeStaleSocket(path);
    listener = native
      ? bindRawUnix(loop, path, options)
      : nodeListener(loop, yield* listenOnNode(loop, path, backlog), options, "Unix", path);
  } else {
    if ((options.sock ?? null) === null) throw new ValueError("path was not specified, and no sock specified");
    listener = yield* adoptListener(loop, options.sock as SocketLike, options, "Unix");
  }
  const server = new Server(loop, [listener], protocolFactory);
  if (options.startServing ?? true) yield* server.startServing();
  return server;
}

/** Python's `loop.create_unix_server`: listens on the Unix socket `path` (removed again when the server closes). */
export function createUnixServer(
  loop: AbstractEventLoop,
  protocolFactory: () => BaseProtocol,
  options: CreateUnixServerOptions = {},
): Coro<Server> {
  return new Coro(() => createUnixServerCoroutine(loop, protocolFactory, options), "createUnixServer");
}
