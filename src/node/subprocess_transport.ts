/**
 * Child processes as transports (CPython's `base_subprocess`
 * `BaseSubprocessTransport` with `unix_events`' `_UnixSubprocessTransport`)
 * on `child_process.spawn`. The child's piped stdin/stdout/stderr become
 * pipe transports (`pipes.ts`) whose events reach the
 * `SubprocessProtocol` as `pipeDataReceived(fd, data)` and
 * `pipeConnectionLost(fd, exc)`; nothing reaches it before
 * `connectionMade`.
 *
 * Node reports a child's `exit` before the last of its output, so the
 * transport counts the child as finished only once it has exited AND
 * every pipe has closed: then `processExited()`, then `connectionLost`,
 * and `_wait()` resolves. `getReturncode()` is set at the exit (negative
 * signal number for a child killed by a signal), as in CPython.
 *
 * `stderr: STDOUT` with `stdout: PIPE` needs one pipe on both descriptors
 * of the child; Node's `spawn` cannot share its own pipes, so the
 * transport makes a connected pair of Unix sockets (what libuv's pipes
 * are, through a short-lived listening socket) and gives the child one
 * end as fd 1 and 2.
 */
import type { ChildProcess, StdioOptions } from "node:child_process";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { Coro } from "../coroutines.js";
import type { AbstractEventLoop, ExecArgs, SubprocessOptions } from "../events.js";
import { osErrorFrom, ProcessLookupError, RuntimeError, ValueError } from "../exceptions.js";
import type { Awaitable, Future } from "../futures.js";
import { logger } from "../log.js";
import type { SubprocessProtocol } from "../protocols.js";
import { Protocol } from "../protocols.js";
import { DEVNULL, PIPE, STDOUT } from "../subprocess_constants.js";
import type { BaseTransport, Transport } from "../transports.js";
import { SubprocessTransport } from "../transports.js";
import { ReadPipeTransport, WritePipeTransport } from "./pipes.js";
import { parseSignal } from "./signals.js";

export { DEVNULL, PIPE, STDOUT } from "../subprocess_constants.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

type PipeTransport = ReadPipeTransport | WritePipeTransport;

/**
 * The protocol of one of the child's pipes: forwards to the subprocess
 * transport (CPython's `WriteSubprocessPipeProto`/`ReadSubprocessPipeProto`).
 */
class SubprocessPipeProtocol extends Protocol {
  pipe: PipeTransport | null = null;
  disconnected = false;

  constructor(
    private readonly _proc: NodeSubprocessTransport,
    readonly fd: number,
  ) {
    super();
  }

  override connectionMade(transport: Transport | BaseTransport): void {
    this.pipe = transport as PipeTransport;
  }

  override connectionLost(exc: Error | null): void {
    this.disconnected = true;
    this._proc._pipeConnectionLost(this.fd, exc);
  }

  override pauseWriting(): void {
    this._proc.getProtocol().pauseWriting();
  }

  override resumeWriting(): void {
    this._proc.getProtocol().resumeWriting();
  }

  override dataReceived(data: Buffer): void {
    this._proc._pipeDataReceived(this.fd, data);
  }

  override toString(): string {
    return `<SubprocessPipeProtocol fd=${this.fd} pipe=${this.pipe}>`;
  }
}

/**
 * The transport of a child process.
 *
 * Invariants: `_pendingCalls` is non-null until `connectionMade` is
 * scheduled (protocol calls wait there until then); `_finished` once the
 * child exited and every pipe closed (then `processExited` and
 * `connectionLost` are scheduled, once); `_child` is `null` after
 * `connectionLost`, and signalling then raises `ProcessLookupError`.
 */
export class NodeSubprocessTransport extends SubprocessTransport {
  private _loop: AbstractEventLoop;
  private _protocol: SubprocessProtocol;
  private _child: ChildProcess | null;
  private readonly _pid: number;
  private _returncode: number | null = null;
  private _closed = false;
  private _finished = false;
  private _exitWaiters: Future<number>[] | null = [];
  private _pendingCalls: [(...args: unknown[]) => unknown, unknown[]][] | null = [];
  private readonly _pipes = new Map<number, SubprocessPipeProtocol>();

  /** @internal Made by `subprocessExec`/`subprocessShell` once the child is spawned. */
  constructor(
    loop: AbstractEventLoop,
    protocol: SubprocessProtocol,
    child: ChildProcess,
    program: string,
    streams: [Writable | null, Readable | null, Readable | null],
    waiter: Future<void>,
  ) {
    super({ subprocess: child });
    this._loop = loop;
    this._protocol = protocol;
    this._child = child;
    this._pid = child.pid as number;
    if (loop.getDebug()) logger.debug(`process ${JSON.stringify(program)} created: pid ${this._pid}`);
    child.on("exit", this._onExit);
    child.unref();
    this._connectPipes(streams);
    loop.callSoon(this._connected, waiter);
  }

  private _connectPipes([stdin, stdout, stderr]: [Writable | null, Readable | null, Readable | null]): void {
    const loop = this._loop;
    if (stdin !== null) {
      const proto = this._pipeProtocol(0);
      new WritePipeTransport(loop, stdin, stdin, proto, null);
    }
    for (const [fd, stream] of [
      [1, stdout],
      [2, stderr],
    ] as const) {
      if (stream !== null) new ReadPipeTransport(loop, stream, stream, this._pipeProtocol(fd), null);
    }
  }

  private _pipeProtocol(fd: number): SubprocessPipeProtocol {
    const proto = new SubprocessPipeProtocol(this, fd);
    this._pipes.set(fd, proto);
    return proto;
  }

  /** After the pipes' `connectionMade`: the protocol's, then what waited for it. */
  private readonly _connected = (waiter: Future<void>): void => {
    const pending = this._pendingCalls ?? [];
    this._loop.callSoon(this._protocol.connectionMade.bind(this._protocol), this);
    for (const [callback, args] of pending) this._loop.callSoon(callback, ...args);
    this._pendingCalls = null;
    if (!waiter.cancelled()) waiter.setResult(undefined);
  };

  /** Node's `exit`: the child is gone (its output may still be in the pipes). */
  private readonly _onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    const returncode = code ?? -(signal === null ? 0 : parseSignal(signal)[1]);
    if (this._loop.isClosed()) return;
    this._loop.callSoon(this._processExited, returncode);
  };

  private _call(callback: (...args: never[]) => unknown, ...args: unknown[]): void {
    const fn = callback as (...a: unknown[]) => unknown;
    if (this._pendingCalls !== null) this._pendingCalls.push([fn, args]);
    else this._loop.callSoon(fn, ...args);
  }

  /** @internal From a pipe protocol. */
  _pipeDataReceived(fd: number, data: Buffer): void {
    this._call(this._protocol.pipeDataReceived.bind(this._protocol), fd, data);
  }

  /** @internal From a pipe protocol. */
  _pipeConnectionLost(fd: number, exc: Error | null): void {
    this._call(this._protocol.pipeConnectionLost.bind(this._protocol), fd, exc);
    this._tryFinish();
  }

  private readonly _processExited = (returncode: number): void => {
    if (this._loop.getDebug()) logger.info(`${this} exited with return code ${returncode}`);
    this._returncode = returncode;
    // The child's end of its stdin is closed now: what CPython learns by watching the write end.
    (this._pipes.get(0)?.pipe as WritePipeTransport | null | undefined)?._readerClosed();
    this._tryFinish();
  };

  private _tryFinish(): void {
    if (this._finished || this._returncode === null) return;
    for (const proto of this._pipes.values()) if (!proto.disconnected) return;
    this._finished = true;
    this._call(this._protocol.processExited.bind(this._protocol));
    this._call(this._callConnectionLost, null);
  }

  private readonly _callConnectionLost = (exc: Error | null): void => {
    try {
      this._protocol.connectionLost(exc);
    } finally {
      for (const waiter of this._exitWaiters ?? []) if (!waiter.cancelled()) waiter.setResult(this._returncode as number);
      this._exitWaiters = null;
      this._child?.off("exit", this._onExit);
      this._child = null;
    }
  };

  /** @internal Resolves to the return code once the child exited and its pipes closed (for `Process.wait()`). */
  _wait(): Awaitable<number> {
    const waiter = this._loop.createFuture<number>();
    if (this._exitWaiters === null) waiter.setResult(this._returncode as number);
    else this._exitWaiters.push(waiter);
    return waiter;
  }

  getPid(): number {
    return this._pid;
  }

  getReturncode(): number | null {
    return this._returncode;
  }

  getPipeTransport(fd: number): PipeTransport | null {
    return this._pipes.get(fd)?.pipe ?? null;
  }

  setProtocol(protocol: SubprocessProtocol): void {
    this._protocol = protocol;
  }

  getProtocol(): SubprocessProtocol {
    return this._protocol;
  }

  isClosing(): boolean {
    return this._closed;
  }

  /** Closes the pipes and kills the child if it still runs (as CPython does). */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    for (const proto of this._pipes.values()) proto.pipe?.close();
    const child = this._child;
    if (child !== null && this._returncode === null && child.exitCode === null && child.signalCode === null) {
      if (this._loop.getDebug()) logger.warn(`Close running child process: kill ${this}`);
      child.kill("SIGKILL");
    }
  }

  /** Sends `signal` (a number or a name) to the child; `ProcessLookupError` once the transport has finished. */
  sendSignal(signal: number | NodeJS.Signals): void {
    if (this._child === null) throw new ProcessLookupError(3, "No such process", { code: "ESRCH" });
    const number = typeof signal === "number" && signal === 0 ? 0 : parseSignal(signal)[1];
    try {
      process.kill(this._pid, number);
    } catch (error) {
      if ((error as { code?: string }).code !== "ESRCH") throw osErrorFrom(error, `pid ${this._pid}`);
    }
  }

  terminate(): void {
    this.sendSignal("SIGTERM");
  }

  kill(): void {
    this.sendSignal("SIGKILL");
  }

  override toString(): string {
    const info = ["NodeSubprocessTransport"];
    if (this._closed) info.push("closed");
    info.push(`pid=${this._pid}`);
    info.push(this._returncode !== null ? `returncode=${this._returncode}` : "running");
    for (const [fd, name] of [
      [0, "stdin"],
      [1, "stdout"],
      [2, "stderr"],
    ] as const) {
      const pipe = this._pipes.get(fd)?.pipe;
      if (pipe) info.push(`${name}=${pipe}`);
    }
    return `<${info.join(" ")}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

// ---- spawning ----------------------------------------------------------------

type StdioEntry = "pipe" | "ignore" | "inherit" | number | net.Socket;

function stdioEntry(value: number | null | undefined, name: string): StdioEntry {
  if (value === undefined || value === PIPE) return "pipe";
  if (value === null) return "inherit";
  if (value === DEVNULL) return "ignore";
  if (value === STDOUT) throw new ValueError(`STDOUT is only valid for stderr, not for ${name}`);
  if (!Number.isInteger(value) || value < 0) {
    throw new ValueError(`${name} must be PIPE, DEVNULL, a file descriptor or null (inherited), not ${value}`);
  }
  return value;
}

/**
 * A connected pair of Unix stream sockets, through a short-lived server
 * (in Linux's abstract namespace, else in the temporary directory).
 */
function* socketPair(loop: AbstractEventLoop): Generator<unknown, [net.Socket, net.Socket]> {
  const name = `asyncio-ts-${process.pid}-${randomBytes(6).toString("hex")}.sock`;
  const abstract = process.platform === "linux";
  const where = abstract ? `\0${name}` : path.join(os.tmpdir(), name);
  const server = net.createServer({ allowHalfOpen: true });
  const accepted = loop.createFuture<net.Socket>();
  const fail = (error: Error): void => {
    if (!accepted.done()) accepted.setException(osErrorFrom(error, where));
  };
  server.on("error", fail);
  server.once("connection", (socket) => {
    if (!accepted.done()) accepted.setResult(socket);
    else socket.destroy();
  });
  let client: net.Socket | null = null;
  server.listen(where, () => {
    client = net.connect({ path: where, allowHalfOpen: true });
    client.on("error", fail);
  });
  try {
    const theirs = yield* accepted;
    const ours = client as unknown as net.Socket;
    ours.off("error", fail);
    return [ours, theirs];
  } catch (error) {
    (client as net.Socket | null)?.destroy();
    throw error;
  } finally {
    server.close();
    if (!abstract) fs.rm(where, { force: true }, () => {});
  }
}

interface SpawnPlan {
  stdio: StdioEntry[];
  /** The parent's end of the socket pair shared by the child's stdout and stderr. */
  merged: net.Socket | null;
  /** The child's end, to close in the parent once the child has it. */
  childEnd: net.Socket | null;
}

function* planStdio(loop: AbstractEventLoop, options: SubprocessOptions): Generator<unknown, SpawnPlan> {
  const stdin = stdioEntry(options.stdin, "stdin");
  const stdout = stdioEntry(options.stdout, "stdout");
  let stderr: StdioEntry;
  let merged: net.Socket | null = null;
  let childEnd: net.Socket | null = null;
  if (options.stderr !== STDOUT) stderr = stdioEntry(options.stderr, "stderr");
  else if (stdout === "pipe") {
    [merged, childEnd] = yield* socketPair(loop);
    stderr = childEnd;
  } else stderr = stdout === "inherit" ? 1 : stdout;
  const stdio: StdioEntry[] = [stdin, merged === null ? stdout : (childEnd as net.Socket), stderr];
  for (const fd of options.passFds ?? []) {
    if (!Number.isInteger(fd) || fd < 3) throw new ValueError(`passFds holds descriptors >= 3 (0-2 are stdio), not ${fd}`);
    while (stdio.length < fd) stdio.push("ignore");
    stdio[fd] = fd;
  }
  return { stdio, merged, childEnd };
}

function checkOptions(options: SubprocessOptions): void {
  if (options.bufsize !== undefined && options.bufsize !== 0) throw new ValueError("bufsize must be 0");
  if (options.cwd !== undefined && !fs.existsSync(options.cwd)) {
    throw osErrorFrom({ code: "ENOENT" }, String(options.cwd));
  }
}

/** Waits for the `error` Node emits (on the next tick) when `spawn` failed. */
function* spawnError(loop: AbstractEventLoop, child: ChildProcess, program: string): Generator<unknown, never> {
  const failed = loop.createFuture<never>();
  child.once("error", (error: Error & { syscall?: string }) => {
    error.syscall = undefined;
    if (!failed.done()) failed.setException(osErrorFrom(error, program));
  });
  return yield* failed;
}

function* start<P extends SubprocessProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  program: string,
  args: string[],
  shell: boolean,
  options: SubprocessOptions,
): Generator<unknown, [NodeSubprocessTransport, P]> {
  checkOptions(options);
  const plan = yield* planStdio(loop, options);
  let child: ChildProcess;
  try {
    child = spawn(program, args, {
      stdio: plan.stdio as StdioOptions,
      shell,
      detached: options.startNewSession === true,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: options.env }),
    });
  } catch (error) {
    plan.merged?.destroy();
    throw osErrorFrom(error, program);
  } finally {
    plan.childEnd?.destroy();
  }
  if (child.pid === undefined) {
    plan.merged?.destroy();
    yield* spawnError(loop, child, program);
  }
  child.on("error", (error) => logger.error(`child process ${child.pid}: ${error}`));
  let protocol: P;
  try {
    protocol = protocolFactory();
  } catch (error) {
    child.kill("SIGKILL");
    plan.merged?.destroy();
    throw error;
  }
  const waiter = loop.createFuture<void>();
  const stdout = plan.merged ?? child.stdout;
  const stderr = plan.merged === null ? child.stderr : null;
  const transport = new NodeSubprocessTransport(loop, protocol, child, program, [child.stdin, stdout, stderr], waiter);
  try {
    yield* waiter;
  } catch (error) {
    transport.close();
    yield* transport._wait();
    throw error;
  }
  return [transport, protocol];
}

function splitExecArgs(args: ExecArgs): [string[], SubprocessOptions] {
  const last = args.at(-1);
  const hasOptions = typeof last === "object" && last !== null;
  const rest = (hasOptions ? args.slice(0, -1) : args) as unknown[];
  for (const arg of rest) {
    if (typeof arg !== "string") throw new TypeError(`program arguments must be strings, not ${typeof arg}`);
  }
  return [rest as string[], hasOptions ? (last as SubprocessOptions) : {}];
}

/** The loop's `subprocessExec`: runs `program` with `args`; resolves `[transport, protocol]` after `connectionMade`. */
export function subprocessExec<P extends SubprocessProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  program: string,
  ...execArgs: ExecArgs
): Coro<[NodeSubprocessTransport, P]> {
  if (loop.isClosed()) throw new RuntimeError("Event loop is closed");
  if (typeof program !== "string") throw new TypeError(`program must be a string, not ${typeof program}`);
  const [args, options] = splitExecArgs(execArgs);
  return new Coro(() => start(loop, protocolFactory, program, args, false, options), "subprocessExec");
}

/** The loop's `subprocessShell`: runs `cmd` with `/bin/sh -c`; resolves `[transport, protocol]` after `connectionMade`. */
export function subprocessShell<P extends SubprocessProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  cmd: string,
  options: SubprocessOptions = {},
): Coro<[NodeSubprocessTransport, P]> {
  if (loop.isClosed()) throw new RuntimeError("Event loop is closed");
  if (typeof cmd !== "string") throw new ValueError("cmd must be a string");
  return new Coro(() => start(loop, protocolFactory, cmd, [], true, options), "subprocessShell");
}
