/**
 * The error classes of asyncio and of the Python built-ins it raises
 * (`RuntimeError`, `ValueError`, `OSError` and its family), with Python's
 * hierarchy: `TimeoutError` and `ConnectionError` are `OSError`s,
 * `SendfileNotAvailableError` and `BrokenBarrierError` are `RuntimeError`s.
 *
 * Every class is branded: `instanceof` is decided by a list of class names
 * stored on the instance under a `Symbol.for` key, so an error made by one
 * copy of the package is recognised by another copy loaded beside it (the
 * way undici brands its errors).
 */

const kKinds = Symbol.for("asyncio-ts.errorKinds");

type Branded = { [kKinds]?: readonly string[] };

/** Root of every error class of the package; not exported by itself. */
export class AsyncioBaseError extends Error {
  declare readonly [kKinds]: readonly string[];

  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    const kinds: string[] = [];
    for (let c: unknown = new.target; c !== AsyncioBaseError && typeof c === "function"; c = Object.getPrototypeOf(c)) {
      kinds.push((c as { name: string }).name);
    }
    Object.defineProperty(this, kKinds, { value: kinds, enumerable: false });
    Object.defineProperty(this, "name", { value: new.target.name, enumerable: false, configurable: true, writable: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== "object" || value === null) return false;
    const kinds = (value as Branded)[kKinds];
    if (kinds === undefined) return Function.prototype[Symbol.hasInstance].call(this, value);
    return this === AsyncioBaseError || kinds.includes(this.name);
  }
}

/** Raised when an operation is not allowed in the current state (Python's `RuntimeError`). */
export class RuntimeError extends AsyncioBaseError {}

/** A method this object's class does not provide (Python's `NotImplementedError`, a `RuntimeError`). */
export class NotImplementedError extends RuntimeError {}

/** Raised for an argument of the right type but a wrong value (Python's `ValueError`). */
export class ValueError extends AsyncioBaseError {}

/** Raised when a key is missing, for example an unset `ContextVar` (Python's `LookupError`). */
export class LookupError extends AsyncioBaseError {}

/**
 * The operation was cancelled. `message` is the cancel message given to
 * `cancel(msg)`, or the empty string.
 */
export class CancelledError extends AsyncioBaseError {}

/** An operation on a future or task that its state does not allow. */
export class InvalidStateError extends AsyncioBaseError {}

/** Options of `OSError`: Node's error `code` (`"ECONNREFUSED"`), the system call and a file name. */
export interface OSErrorOptions extends ErrorOptions {
  code?: string;
  syscall?: string;
  filename?: string;
}

/**
 * An error reported by the operating system: Python's `OSError(errno, strerror)`.
 * `errno` is the positive error number where known, `code` Node's symbolic
 * name (`"ECONNRESET"`).
 */
export class OSError extends AsyncioBaseError {
  readonly errno: number | undefined;
  readonly strerror: string;
  readonly code: string | undefined;
  readonly syscall: string | undefined;
  readonly filename: string | undefined;

  constructor(errno: number | undefined, strerror: string, options: OSErrorOptions = {}) {
    const where = options.filename === undefined ? "" : `: '${options.filename}'`;
    super(errno === undefined ? `${strerror}${where}` : `[Errno ${errno}] ${strerror}${where}`, options);
    this.errno = errno;
    this.strerror = strerror;
    this.code = options.code;
    this.syscall = options.syscall;
    this.filename = options.filename;
  }
}

/** The operation took too long (asyncio's `TimeoutError`, an `OSError` as in Python 3.11+). */
export class TimeoutError extends OSError {
  constructor(message = "") {
    super(undefined, message, { code: "ETIMEDOUT" });
  }
}

/** A non-blocking operation would have blocked (`EAGAIN`, `EINPROGRESS`). */
export class BlockingIOError extends OSError {}
/** Base of the connection errors. */
export class ConnectionError extends OSError {}
/** The peer reset the connection (`ECONNRESET`). */
export class ConnectionResetError extends ConnectionError {}
/** The peer refused the connection (`ECONNREFUSED`). */
export class ConnectionRefusedError extends ConnectionError {}
/** Writing to a pipe or socket whose other end is closed (`EPIPE`). */
export class BrokenPipeError extends ConnectionError {}
/** The connection was aborted (`ECONNABORTED`). */
export class ConnectionAbortedError extends ConnectionError {}

/** A file or directory does not exist (`ENOENT`). */
export class FileNotFoundError extends OSError {}
/** A file already exists (`EEXIST`). */
export class FileExistsError extends OSError {}
/** Not permitted (`EACCES`, `EPERM`). */
export class PermissionError extends OSError {}
/** No such process (`ESRCH`). */
export class ProcessLookupError extends OSError {}
/** An operation on a directory where a file was expected (`EISDIR`). */
export class IsADirectoryError extends OSError {}
/** A path component is not a directory (`ENOTDIR`). */
export class NotADirectoryError extends OSError {}
/** A system call was interrupted (`EINTR`). */
export class InterruptedError extends OSError {}
/** Name resolution failed (Python's `socket.gaierror`; `code` is `ENOTFOUND`, `EAI_AGAIN`, ...). */
export class gaierror extends OSError {}

/** `sendfile` is not available for this transport or file; the caller may fall back. */
export class SendfileNotAvailableError extends RuntimeError {}

/** `readexactly()` met end of file before it had `expected` bytes; `partial` holds what was read. */
export class IncompleteReadError extends AsyncioBaseError {
  readonly partial: Uint8Array;
  readonly expected: number | null;

  constructor(partial: Uint8Array, expected: number | null) {
    const wanted = expected === null ? "undefined" : String(expected);
    super(`${partial.length} bytes read on a total of ${wanted} expected bytes`);
    this.partial = partial;
    this.expected = expected;
  }
}

/** The separator was not found within the stream's limit; `consumed` bytes are to be consumed. */
export class LimitOverrunError extends AsyncioBaseError {
  readonly consumed: number;

  constructor(message: string, consumed: number) {
    super(message);
    this.consumed = consumed;
  }
}

/** `getNowait()` on an empty queue. */
export class QueueEmpty extends AsyncioBaseError {}
/** `putNowait()` on a full queue. */
export class QueueFull extends AsyncioBaseError {}
/** `put()`/`get()` on a queue that was shut down. */
export class QueueShutDown extends AsyncioBaseError {}
/** A `Barrier` was broken (reset or aborted) while a task waited on it. */
export class BrokenBarrierError extends RuntimeError {}

/**
 * The POSIX error numbers and messages of the codes the loop maps (Linux
 * numbering; used where the host gives only a code).
 */
const ERRNO: Record<string, [number, string]> = {
  EPERM: [1, "Operation not permitted"],
  ENOENT: [2, "No such file or directory"],
  ESRCH: [3, "No such process"],
  EINTR: [4, "Interrupted system call"],
  EBADF: [9, "Bad file descriptor"],
  ECHILD: [10, "No child processes"],
  EAGAIN: [11, "Resource temporarily unavailable"],
  ENOMEM: [12, "Cannot allocate memory"],
  EACCES: [13, "Permission denied"],
  EEXIST: [17, "File exists"],
  ENOTDIR: [20, "Not a directory"],
  EISDIR: [21, "Is a directory"],
  EINVAL: [22, "Invalid argument"],
  EMFILE: [24, "Too many open files"],
  EPIPE: [32, "Broken pipe"],
  ENAMETOOLONG: [36, "File name too long"],
  ENOTSOCK: [88, "Socket operation on non-socket"],
  EMSGSIZE: [90, "Message too long"],
  EPROTOTYPE: [91, "Protocol wrong type for socket"],
  EOPNOTSUPP: [95, "Operation not supported"],
  EAFNOSUPPORT: [97, "Address family not supported by protocol"],
  EADDRINUSE: [98, "Address already in use"],
  EADDRNOTAVAIL: [99, "Cannot assign requested address"],
  ENETDOWN: [100, "Network is down"],
  ENETUNREACH: [101, "Network is unreachable"],
  ECONNABORTED: [103, "Software caused connection abort"],
  ECONNRESET: [104, "Connection reset by peer"],
  ENOBUFS: [105, "No buffer space available"],
  EISCONN: [106, "Transport endpoint is already connected"],
  ENOTCONN: [107, "Transport endpoint is not connected"],
  ESHUTDOWN: [108, "Cannot send after transport endpoint shutdown"],
  ETIMEDOUT: [110, "Connection timed out"],
  ECONNREFUSED: [111, "Connection refused"],
  EHOSTUNREACH: [113, "No route to host"],
  EALREADY: [114, "Operation already in progress"],
  EINPROGRESS: [115, "Operation now in progress"],
  // Name resolution (getaddrinfo's EAI_* codes, negative as Python's socket.gaierror reports them):
  ENOTFOUND: [-2, "Name or service not known"],
  EAI_NONAME: [-2, "Name or service not known"],
  EAI_AGAIN: [-3, "Temporary failure in name resolution"],
  EAI_FAIL: [-4, "Non-recoverable failure in name resolution"],
  EAI_NODATA: [-5, "No address associated with hostname"],
  EAI_FAMILY: [-6, "ai_family not supported"],
  EAI_SOCKTYPE: [-7, "ai_socktype not supported"],
  EAI_SERVICE: [-8, "Servname not supported for ai_socktype"],
};

/** The OSError subclass Python raises for each error code (uvloop's `errors.pyx`, in one place). */
const CLASS_BY_CODE: Record<string, new (errno: number | undefined, strerror: string, options?: OSErrorOptions) => OSError> = {
  EAGAIN: BlockingIOError,
  EWOULDBLOCK: BlockingIOError,
  EINPROGRESS: BlockingIOError,
  EALREADY: BlockingIOError,
  EPIPE: BrokenPipeError,
  ESHUTDOWN: BrokenPipeError,
  ECONNABORTED: ConnectionAbortedError,
  ECONNREFUSED: ConnectionRefusedError,
  ECONNRESET: ConnectionResetError,
  ENOENT: FileNotFoundError,
  EEXIST: FileExistsError,
  EACCES: PermissionError,
  EPERM: PermissionError,
  ESRCH: ProcessLookupError,
  EISDIR: IsADirectoryError,
  ENOTDIR: NotADirectoryError,
  EINTR: InterruptedError,
  ENOTFOUND: gaierror,
  EAI_AGAIN: gaierror,
  EAI_FAIL: gaierror,
  EAI_NONAME: gaierror,
  EAI_NODATA: gaierror,
  EAI_FAMILY: gaierror,
  EAI_SERVICE: gaierror,
  EAI_SOCKTYPE: gaierror,
};

/** The error number and message of a POSIX error code (`["ECONNRESET"]` -> `[104, "Connection reset by peer"]`). */
export function errnoOf(code: string): [number, string] | undefined {
  return ERRNO[code];
}

/** The shape of a system error from the host (Node's `SystemError`, the addon's errors). */
export interface SystemErrorLike {
  code?: string;
  errno?: number;
  syscall?: string;
  message?: string;
  path?: string;
}

/**
 * Turns a host system error into the `OSError` subclass Python would raise
 * (`ECONNREFUSED` -> `ConnectionRefusedError`), with `errno` (positive),
 * `code`, `syscall`, and `what` (an address or path) in the message. An
 * error that already is an `OSError`, or that has no `code`, comes back
 * unchanged. The original error is the `cause`.
 */
export function osErrorFrom(error: unknown, what?: string): unknown {
  if (error instanceof OSError || typeof error !== "object" || error === null) return error;
  const system = error as SystemErrorLike;
  const code = system.code;
  if (typeof code !== "string" || !/^E[A-Z0-9_]+$/.test(code)) return error;
  const known = ERRNO[code];
  const errno = known?.[0] ?? (typeof system.errno === "number" && system.errno !== 0 ? Math.abs(system.errno) : undefined);
  const call = system.syscall === undefined ? "" : `${system.syscall} `;
  const subject = what ?? system.path;
  const strerror = known === undefined ? (system.message ?? code) : `${call}${known[1]}`;
  if (code === "ETIMEDOUT") return new TimeoutError(`${strerror}${subject === undefined ? "" : `: '${subject}'`}`);
  const Cls = CLASS_BY_CODE[code] ?? OSError;
  const options: OSErrorOptions = { code, cause: error };
  if (system.syscall !== undefined) options.syscall = system.syscall;
  if (subject !== undefined) options.filename = subject;
  return new Cls(errno, strerror, options);
}

type ErrorClass = abstract new (...args: never[]) => unknown;
/** What `subgroup()` and `split()` match: a class, several classes, or a predicate. */
export type ExceptionMatcher = ErrorClass | readonly ErrorClass[] | ((error: unknown) => boolean);

/** An error class (`Error` or a subclass), as opposed to a predicate, which may be a plain `function` too. */
function isErrorClass(value: unknown): boolean {
  return value === Error || (typeof value === "function" && value.prototype instanceof Error);
}

function toPredicate(matcher: ExceptionMatcher): (error: unknown) => boolean {
  if (Array.isArray(matcher)) {
    const classes = matcher as readonly ErrorClass[];
    return (error) => classes.some((cls) => error instanceof cls);
  }
  if (isErrorClass(matcher)) {
    const cls = matcher as ErrorClass;
    return (error) => error instanceof cls;
  }
  return matcher as (error: unknown) => boolean;
}

/**
 * Several errors raised together (Python's `ExceptionGroup`), for example by
 * a `TaskGroup` whose children failed. A subclass of `AggregateError`, so
 * `errors` holds the same list as `exceptions`.
 */
export class ExceptionGroup extends AggregateError {
  readonly exceptions: readonly unknown[];
  declare readonly [kKinds]: readonly string[];

  constructor(message: string, exceptions: readonly unknown[]) {
    if (typeof message !== "string") throw new TypeError(`ExceptionGroup() message must be a string, not ${typeof message}`);
    if (!Array.isArray(exceptions)) throw new TypeError("ExceptionGroup() second argument (exceptions) must be an array");
    if (exceptions.length === 0) throw new ValueError("ExceptionGroup() second argument (exceptions) must be a non-empty array");
    super(exceptions, message);
    this.exceptions = Object.freeze([...exceptions]);
    Object.defineProperty(this, kKinds, { value: ["ExceptionGroup"], enumerable: false });
    Object.defineProperty(this, "name", { value: "ExceptionGroup", enumerable: false, configurable: true, writable: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== "object" || value === null) return false;
    const kinds = (value as Branded)[kKinds];
    if (kinds === undefined) return Function.prototype[Symbol.hasInstance].call(this, value);
    return kinds.includes("ExceptionGroup");
  }

  /** A group of the same message holding `exceptions` (Python's `derive`). */
  derive(exceptions: readonly unknown[]): ExceptionGroup {
    return new ExceptionGroup(this.message, exceptions);
  }

  /** The errors that match, keeping the nesting; `null` when none matches. */
  subgroup(matcher: ExceptionMatcher): ExceptionGroup | null {
    return this.split(matcher)[0];
  }

  /** `[matching, rest]`, each a group keeping the nesting, or `null` when empty. */
  split(matcher: ExceptionMatcher): [ExceptionGroup | null, ExceptionGroup | null] {
    const test = toPredicate(matcher);
    if (test(this)) return [this, null];
    const matched: unknown[] = [];
    const rest: unknown[] = [];
    for (const error of this.exceptions) {
      if (error instanceof ExceptionGroup) {
        const [m, r] = error.split(test);
        if (m !== null) matched.push(m);
        if (r !== null) rest.push(r);
      } else if (test(error)) {
        matched.push(error);
      } else {
        rest.push(error);
      }
    }
    const wrap = (list: unknown[]): ExceptionGroup | null => {
      if (list.length === 0) return null;
      const group = this.derive(list);
      if (this.cause !== undefined) group.cause = this.cause;
      return group;
    };
    return [wrap(matched), wrap(rest)];
  }
}

/** The text of an error as Python's `repr` would show it: `ValueError('bad')`. */
export function errorRepr(error: unknown): string {
  if (error instanceof Error) return `${error.name}(${JSON.stringify(error.message)})`;
  return `${typeof error}(${String(error)})`;
}
