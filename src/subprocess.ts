/**
 * Child processes with streams (Python's `asyncio.subprocess`):
 * `createSubprocessExec` and `createSubprocessShell` start a child through
 * the loop's `subprocessExec`/`subprocessShell` and return a `Process`
 * whose piped stdin is a `StreamWriter` and whose piped stdout and stderr
 * are `StreamReader`s. `communicate()` writes the input and reads both
 * outputs concurrently, so a child that fills one pipe while the other is
 * being written cannot deadlock it; the readers' limit pauses a pipe that
 * nobody reads, so memory stays bounded.
 *
 * `PIPE`, `STDOUT` and `DEVNULL` are Python's `subprocess` constants.
 */

import { gather } from "./combinators.js";
import { Coro } from "./coroutines.js";
import type { AbstractEventLoop, SubprocessOptions } from "./events.js";
import { getRunningLoop } from "./events.js";
import { BrokenPipeError, ConnectionResetError, ValueError } from "./exceptions.js";
import type { Coroutine, Future } from "./futures.js";
import { logger } from "./log.js";
import { DEFAULT_LIMIT, FlowControlProtocol, StreamReader, StreamWriter } from "./streams.js";
import type { BaseTransport, ReadTransport, SubprocessTransport, WriteTransport } from "./transports.js";
import { returnNow } from "./waiters.js";

export { DEVNULL, PIPE, STDOUT } from "./subprocess_constants.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** Options of `createSubprocessExec`/`createSubprocessShell`: the loop's, and the readers' `limit`. */
export interface CreateSubprocessOptions extends SubprocessOptions {
  /** The `limit` of the stdout and stderr readers (default 64 KiB). */
  limit?: number;
}

/**
 * The protocol between a child's transport and its streams (CPython's
 * `SubprocessStreamProtocol`): stdout and stderr data feed the readers, the
 * stdin pipe's flow control drives `stdin.drain()`, and once the child has
 * exited and its output pipes closed the transport is closed.
 */
export class SubprocessStreamProtocol extends FlowControlProtocol {
  private readonly _limit: number;
  stdin: StreamWriter | null = null;
  stdout: StreamReader | null = null;
  stderr: StreamReader | null = null;
  private _transport: SubprocessTransport | null = null;
  /** The subprocess transport, kept after it is closed (for the return code). */
  private _procTransport: SubprocessTransport | null = null;
  private _processExited = false;
  /** The output descriptors (1, 2) whose pipes are still open. */
  private readonly _pipeFds = new Set<number>();
  private readonly _stdinClosed: Future<void>;
  /** Futures of `Process.wait()`: resolved with the return code once the transport is done. */
  private _exitWaiters: Future<number>[] | null = [];

  constructor(limit: number, loop: AbstractEventLoop) {
    super(loop);
    this._limit = limit;
    this._stdinClosed = loop.createFuture<void>();
  }

  override connectionMade(transport: BaseTransport): void {
    const proc = transport as SubprocessTransport;
    this._transport = proc;
    this._procTransport = proc;
    this.stdout = this._reader(proc, 1);
    this.stderr = this._reader(proc, 2);
    const stdin = proc.getPipeTransport(0);
    if (stdin !== null) this.stdin = new StreamWriter(stdin as WriteTransport, this, null, this._loop);
  }

  private _reader(proc: SubprocessTransport, fd: number): StreamReader | null {
    const pipe = proc.getPipeTransport(fd);
    if (pipe === null) return null;
    const reader = new StreamReader(this._limit, { loop: this._loop });
    reader.setTransport(pipe as ReadTransport);
    this._pipeFds.add(fd);
    return reader;
  }

  pipeDataReceived(fd: number, data: Buffer): void {
    const reader = fd === 1 ? this.stdout : fd === 2 ? this.stderr : null;
    reader?._feed(data, true);
  }

  pipeConnectionLost(fd: number, exc: Error | null): void {
    if (fd === 0) {
      this.stdin?.close();
      super.connectionLost(exc); // stdin's drain() waiters
      if (this._stdinClosed.done()) return;
      if (exc === null) this._stdinClosed.setResult(undefined);
      else {
        this._stdinClosed.setException(exc);
        this._stdinClosed.exception(); // retrieved: nobody has to wait for it
      }
      return;
    }
    const reader = fd === 1 ? this.stdout : fd === 2 ? this.stderr : null;
    if (reader !== null) {
      if (exc === null) reader.feedEof();
      else reader.setException(exc);
    }
    this._pipeFds.delete(fd);
    this._maybeCloseTransport();
  }

  processExited(): void {
    this._processExited = true;
    this._maybeCloseTransport();
  }

  /** The transport is done (the child exited and every pipe closed): `wait()` returns. */
  override connectionLost(exc: Error | null): void {
    super.connectionLost(exc);
    const returncode = this._procTransport?.getReturncode() ?? null;
    for (const waiter of this._exitWaiters ?? []) if (!waiter.done()) waiter.setResult(returncode as number);
    this._exitWaiters = null;
  }

  private _maybeCloseTransport(): void {
    if (this._pipeFds.size === 0 && this._processExited && this._transport !== null) {
      this._transport.close();
      this._transport = null;
    }
  }

  /** A future resolved with the return code once the child has exited and its pipes closed. */
  _wait(): Future<number> {
    const waiter = this._loop.createFuture<number>();
    if (this._exitWaiters === null) waiter.setResult(this._procTransport?.getReturncode() as number);
    else this._exitWaiters.push(waiter);
    return waiter;
  }

  override _getCloseWaiter(stream: StreamWriter): Future<void> {
    if (stream !== this.stdin) throw new ValueError(`${stream} is not the stdin of this process`);
    return this._stdinClosed;
  }
}

/**
 * A child process started by `createSubprocessExec`/`createSubprocessShell`
 * (Python's `asyncio.subprocess.Process`).
 *
 * @example
 * const proc = await asyncio.createSubprocessExec("ls", "-l", { stdout: asyncio.PIPE });
 * const [out] = await proc.communicate();
 * console.log(out?.toString(), proc.returncode);
 */
export class Process {
  /** The child's stdin, when it is `PIPE`. */
  readonly stdin: StreamWriter | null;
  /** The child's stdout, when it is `PIPE`. */
  readonly stdout: StreamReader | null;
  /** The child's stderr, when it is `PIPE`. */
  readonly stderr: StreamReader | null;
  /** The child's process id. */
  readonly pid: number | null;
  private readonly _transport: SubprocessTransport;
  private readonly _protocol: SubprocessStreamProtocol;
  private readonly _loop: AbstractEventLoop;

  constructor(transport: SubprocessTransport, protocol: SubprocessStreamProtocol, loop: AbstractEventLoop) {
    this._transport = transport;
    this._protocol = protocol;
    this._loop = loop;
    this.stdin = protocol.stdin;
    this.stdout = protocol.stdout;
    this.stderr = protocol.stderr;
    this.pid = transport.getPid();
  }

  /** The exit code: `null` while the child runs, `-N` if signal N killed it. */
  get returncode(): number | null {
    return this._transport.getReturncode();
  }

  /**
   * Waits until the child exits (and its output pipes are closed) and
   * returns its return code. With `stdout`/`stderr` piped and not read, a
   * child writing more than the pipes hold never exits: use `communicate()`.
   */
  wait(): Future<number> {
    return this._protocol._wait();
  }

  /** Sends signal `signal` (a number or a name such as `"SIGINT"`); `ProcessLookupError` once the child is reaped. */
  sendSignal(signal: number | NodeJS.Signals): void {
    this._transport.sendSignal(signal);
  }

  /** Sends SIGTERM. */
  terminate(): void {
    this._transport.terminate();
  }

  /** Sends SIGKILL. */
  kill(): void {
    this._transport.kill();
  }

  /**
   * Writes `input` to stdin (then closes it), reads stdout and stderr to
   * their end, all at once, waits for the child to exit, and returns
   * `[stdout, stderr]` (`null` for a stream that is not piped). A child
   * that stops reading its stdin does not make it fail: the broken pipe is
   * ignored, as in Python.
   */
  communicate(input?: Uint8Array | null): Coro<[Buffer | null, Buffer | null]> {
    return new Coro(() => this._communicate(input ?? null), "Process.communicate");
  }

  private *_communicate(input: Uint8Array | null): Coroutine<[Buffer | null, Buffer | null]> {
    if (input !== null && this.stdin === null) {
      throw new ValueError("communicate(input) needs stdin=PIPE: the child's stdin is not a pipe, the input would be lost");
    }
    const { stdin, stdout, stderr } = this;
    const [, out, err] = yield* gather(
      stdin === null ? noop() : new Coro(() => this._feedStdin(stdin, input), "feedStdin"),
      stdout === null ? noop() : new Coro(() => this._readStream(1, stdout), "readStdout"),
      stderr === null ? noop() : new Coro(() => this._readStream(2, stderr), "readStderr"),
    );
    yield* this.wait();
    return [out, err];
  }

  private *_feedStdin(stdin: StreamWriter, input: Uint8Array | null): Coroutine<void> {
    const debug = this._loop.getDebug();
    try {
      if (input !== null) {
        stdin.write(input);
        if (debug) logger.debug(`${this} communicate: feed stdin (${input.length} bytes)`);
      }
      yield* stdin.drain();
    } catch (error) {
      // The child may exit without reading its stdin: communicate() ignores that, as in Python.
      if (!(error instanceof BrokenPipeError || error instanceof ConnectionResetError)) throw error;
      if (debug) logger.debug(`${this} communicate: stdin got ${error}`);
    }
    if (debug) logger.debug(`${this} communicate: close stdin`);
    stdin.close();
  }

  private *_readStream(fd: number, stream: StreamReader): Coroutine<Buffer> {
    const output = yield* stream.read();
    this._transport.getPipeTransport(fd)?.close();
    return output;
  }

  toString(): string {
    return `<Process ${this.pid}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

function noop(): Coro<null> {
  return new Coro(() => returnNow(null), "noop");
}

function splitOptions(options: CreateSubprocessOptions): [number, SubprocessOptions] {
  const { limit = DEFAULT_LIMIT, stdin = null, stdout = null, stderr = null, ...rest } = options;
  // Python's create_subprocess_* default each stream to None (inherited), where the loop's methods default to PIPE.
  return [limit, { ...rest, stdin, stdout, stderr }];
}

/** The arguments of `createSubprocessExec` after the program: strings, optionally followed by options. */
export type CreateExecArgs = [...args: string[]] | [...args: string[], options: CreateSubprocessOptions];

/**
 * Runs `program` with `args` (no shell) and returns its `Process`. Each of
 * `stdin`, `stdout`, `stderr` is inherited unless set to `PIPE`, `DEVNULL`,
 * a file descriptor, or (`stderr` only) `STDOUT`.
 *
 * @example
 * const proc = await asyncio.createSubprocessExec("node", "-e", "console.log(1 + 1)", { stdout: asyncio.PIPE });
 * console.log((await proc.stdout!.readline()).toString()); // "2\n"
 * await proc.wait();
 */
export function createSubprocessExec(program: string, ...args: CreateExecArgs): Coro<Process> {
  const last = args[args.length - 1];
  const options = typeof last === "object" && last !== null ? (args.pop() as CreateSubprocessOptions) : {};
  const argv = args as string[];
  return new Coro(function* createSubprocessExec(): Coroutine<Process> {
    const loop = getRunningLoop();
    const [limit, loopOptions] = splitOptions(options);
    const [transport, protocol] = yield* loop.subprocessExec(
      () => new SubprocessStreamProtocol(limit, loop),
      program,
      ...argv,
      loopOptions,
    );
    return new Process(transport, protocol, loop);
  }, "createSubprocessExec");
}

/** Runs `cmd` with the shell (`/bin/sh -c`) and returns its `Process`; options as `createSubprocessExec`. */
export function createSubprocessShell(cmd: string, options: CreateSubprocessOptions = {}): Coro<Process> {
  return new Coro(function* createSubprocessShell(): Coroutine<Process> {
    const loop = getRunningLoop();
    const [limit, loopOptions] = splitOptions(options);
    const [transport, protocol] = yield* loop.subprocessShell(() => new SubprocessStreamProtocol(limit, loop), cmd, loopOptions);
    return new Process(transport, protocol, loop);
  }, "createSubprocessShell");
}
