/**
 * The TypeScript face of the native addon (native/asyncio_native.c, built
 * by node-gyp into build/Release at `npm install`): its typed interface,
 * the loader, and the one place where the addon's failures become the
 * OSError family (through `osErrorFrom`, shared with every other backend
 * module). The addon is loaded on first use; when it is missing (no
 * compiler at install time, or `ASYNCIO_TS_NO_ADDON=1`) every call that
 * needs it throws an error saying so and how to build it, and the rest of
 * the package is unaffected.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { osErrorFrom, RuntimeError } from "../exceptions.js";
import type { Address } from "../protocols.js";

/** An opaque uv_poll_t watcher. */
export type Watcher = { readonly __watcher: unique symbol };

/**
 * The thread's dispatcher of watcher reports (`pollInit`), called once after
 * each libuv poll phase that reported: `reports` holds `count` triples
 * `[id, status, events]` from index 0 (the id given at `pollNew`; status 0
 * or -errno; events a mask of `UV_READABLE | UV_WRITABLE | UV_DISCONNECT`).
 * The array is reused by later dispatches: read it during the call.
 */
export type PollDispatcher = (reports: Int32Array, count: number) => void;

/**
 * The addon's functions. Data-path calls (connect, accept, recv, recvfrom,
 * send, sendto, sendfile, writev) return `-errno` on failure instead of throwing;
 * every other call throws an error with `code`, `errno` and `syscall`.
 */
export interface NativeAddon {
  socket(family: number, type: number, proto: number): number;
  socketpair(family: number, type: number, proto: number): [number, number];
  close(fd: number): void;
  dup(fd: number): number;
  setblocking(fd: number, blocking: boolean): void;
  getblocking(fd: number): boolean;
  sockinfo(fd: number): [family: number, type: number, proto: number];
  bind(fd: number, family: number, address: Address | Uint8Array): void;
  listen(fd: number, backlog: number): void;
  connect(fd: number, family: number, address: Address | Uint8Array): number;
  accept(fd: number): [number, Address] | number;
  recv(fd: number, buf: Uint8Array, offset: number, length: number, flags: number): number;
  recvfrom(fd: number, buf: Uint8Array, offset: number, length: number, flags: number): [number, Address | null] | number;
  send(fd: number, buf: Uint8Array, offset: number, length: number, flags: number): number;
  /** `recv` into the whole of `buf`, flags 0: the stream transports' read (two arguments cost less than five). */
  recvBuffer(fd: number, buf: Uint8Array): number;
  /**
   * `recv` into the whole of `scratch`; a receive of fewer than
   * `RECV_COPY_LIMIT` bytes is also copied to `pool` at `offset` (when it fits).
   */
  recvPooled(fd: number, scratch: Uint8Array, pool: Uint8Array, offset: number): number;
  /**
   * One `recv` for each of the first `count` descriptors of `fds`, straight
   * into `pool` from `offset` on, each at the next 8-byte boundary;
   * `results[2i]` the result (bytes, 0, -errno), `results[2i + 1]` where
   * its bytes start. Returns how many were received from: it stops when
   * less than `RECV_COPY_LIMIT` bytes of the pool are left.
   */
  recvBatch(fds: Int32Array, count: number, pool: Uint8Array, offset: number, results: Int32Array): number;
  /** `send` of the whole of `buf`, flags 0: the stream transports' write. */
  sendBuffer(fd: number, buf: Uint8Array): number;
  sendto(
    fd: number,
    buf: Uint8Array,
    offset: number,
    length: number,
    flags: number,
    family: number,
    address: Address | Uint8Array,
  ): number;
  /** One sendmsg(2) of `buffers` (the first from byte `offset` on, at most IOV_MAX of them): bytes sent or `-errno`. */
  writev(fd: number, buffers: readonly Uint8Array[], offset: number): number;
  shutdown(fd: number, how: number): void;
  getsockname(fd: number): Address | null;
  getpeername(fd: number): Address | null;
  setsockopt(fd: number, level: number, option: number, value: number | Uint8Array): void;
  getsockopt(fd: number, level: number, option: number, buflen: number): number | Buffer;
  sendfile(outFd: number, inFd: number, offset: number, count: number): number;
  regularFileSize(fd: number): number;
  lseek(fd: number, offset: number): number;
  waitfd(fd: number, writable: boolean, timeoutMs: number): number;
  errname(errno: number): string;
  strerror(errno: number): string;
  /** Sets (or replaces) this thread's dispatcher; needed before the first `pollNew`. */
  pollInit(dispatcher: PollDispatcher): void;
  /** A watcher on `fd` whose reports carry `id`; a report not yet dispatched when it is closed is dropped. */
  pollNew(fd: number, id: number): Watcher;
  pollStart(watcher: Watcher, events: number): void;
  pollClose(watcher: Watcher): void;
  readonly EAGAIN: number;
  readonly EWOULDBLOCK: number;
  readonly EINPROGRESS: number;
  readonly EINTR: number;
  readonly ENOTCONN: number;
  readonly ENOSYS: number;
  readonly UV_READABLE: number;
  readonly UV_WRITABLE: number;
  readonly UV_DISCONNECT: number;
  /** `recvPooled` copies a receive of fewer bytes than this into the pool. */
  readonly RECV_COPY_LIMIT: number;
  readonly HAS_SENDFILE: number;
}

/** Where node-gyp puts the addon, relative to the package root (dist/node/addon.js -> ../../). */
const ADDON_PATH = fileURLToPath(new URL("../../build/Release/asyncio_native.node", import.meta.url));
const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

let loaded: NativeAddon | null = null;
let missingReason: string | null = null;

function load(): void {
  if (process.env.ASYNCIO_TS_NO_ADDON === "1") {
    missingReason = "it is disabled by ASYNCIO_TS_NO_ADDON=1";
    return;
  }
  try {
    loaded = fastProperties(createRequire(import.meta.url)(ADDON_PATH) as object) as NativeAddon;
  } catch (error) {
    missingReason = `it could not be loaded from ${ADDON_PATH}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/**
 * The addon's exports as an object V8 keeps in fast mode. The exports
 * object N-API makes holds its 41 properties as a dictionary, so each
 * `native.recv` of a hot path was a dictionary lookup in the generic load
 * stub (about 2 % of an echo server's CPU time); an object built at once
 * from its entries gets a fixed shape that optimised code loads inline.
 */
function fastProperties(exports: object): object {
  return Object.fromEntries(Object.getOwnPropertyNames(exports).map((name) => [name, Reflect.get(exports, name)]));
}

/** True when the addon is built and loadable (the socket namespace and addReader/addWriter work). */
export function addonAvailable(): boolean {
  if (loaded === null && missingReason === null) load();
  return loaded !== null;
}

/**
 * The addon, loaded on first use; throws a `RuntimeError` saying why it is
 * missing and how to build it.
 */
export function addon(): NativeAddon {
  if (loaded !== null) return loaded;
  if (missingReason === null) load();
  if (loaded !== null) return loaded;
  throw new RuntimeError(
    `asyncio-ts: the native addon is missing (${missingReason}); raw sockets, addReader/addWriter and the loop's sock* ` +
      `methods need it. Build it with \`npm run build:addon\` in ${PACKAGE_ROOT} (needs a C compiler, make and python3).`,
  );
}

/** The OSError subclass for a system error number (`111` -> `ConnectionRefusedError`), naming the call and `what`. */
export function errnoError(errno: number, syscall: string, what?: string): unknown {
  const native = addon();
  return osErrorFrom({ code: native.errname(errno), errno, syscall, message: native.strerror(errno) }, what);
}

/** Throws the error for a negative return value `-errno` of a data-path call. */
export function raiseErrno(result: number, syscall: string, what?: string): never {
  throw errnoError(-result, syscall, what);
}

/** Runs a throwing addon call, turning its system errors into the OSError family. */
export function sys<T>(call: () => T, what?: string): T {
  try {
    return call();
  } catch (error) {
    throw osErrorFrom(error, what);
  }
}
