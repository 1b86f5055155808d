/**
 * `ThreadPoolExecutor` (on `worker_threads`) and `ProcessPoolExecutor` (on
 * child processes): Python's `concurrent.futures` pools on Node. Both are
 * one pool of workers running `executor_worker.js`; they differ only in
 * how a worker is started and talked to. Workers start when a job needs
 * one (up to `maxWorkers`) and are reused; a worker that dies while running
 * a job fails that job with `BrokenThreadPool`/`BrokenProcessPool` and is
 * replaced by the next job that needs a worker (Python breaks the whole
 * pool instead). An idle worker does not keep the Node process alive; a
 * busy one does.
 *
 * No JavaScript object is shared with a worker: a function travels as its
 * source (or as a `{ module, name }` reference), arguments and results are
 * structured-cloned, and a thrown error comes back with its class name,
 * message, stack and own properties (`executor_protocol.ts`).
 */
import type { ChildProcess } from "node:child_process";
import { fork } from "node:child_process";
import { availableParallelism } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { Deque } from "../collections.js";
import type { ExecutorFunction, ShutdownOptions } from "../concurrent_futures.js";
import { BrokenProcessPool, BrokenThreadPool, ConcurrentFuture, Executor } from "../concurrent_futures.js";
import * as exceptions from "../exceptions.js";
import { RuntimeError, ValueError } from "../exceptions.js";
import { globalsShadowedFor } from "./closure_probe.js";
import type { FunctionSpec, JobMessage, ReplyMessage, SerializedThrown } from "./executor_protocol.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");
const WORKER_FILE = fileURLToPath(new URL("./executor_worker.js", import.meta.url));

/** Options of the pool constructors. */
export interface PoolExecutorOptions {
  /** How many workers may run at once; default: `os.availableParallelism()`. */
  maxWorkers?: number;
}

interface Job {
  id: number;
  future: ConcurrentFuture<unknown>;
  message: JobMessage;
  /** The function's name, for messages. */
  label: string;
}

/** One worker, whatever it runs on. */
abstract class PoolWorker {
  /** The job it runs; `null` while idle. */
  job: Job | null = null;
  /** Why it ended, if it reported an error before exiting. */
  lastError: unknown = undefined;

  constructor(readonly id: number) {}

  abstract readonly description: string;
  abstract post(message: JobMessage): void;
  /** Busy workers keep the process alive, idle ones do not. */
  abstract setBusy(busy: boolean): void;
  /** Stops the worker; until it is gone it keeps the process alive. */
  abstract terminate(): void;
}

type WorkerEvents = {
  reply(worker: PoolWorker, reply: ReplyMessage): void;
  exit(worker: PoolWorker, how: string): void;
};

class ThreadWorker extends PoolWorker {
  private readonly _worker: Worker;
  private readonly _threadId: number;

  constructor(id: number, events: WorkerEvents) {
    super(id);
    this._worker = new Worker(WORKER_FILE);
    this._threadId = this._worker.threadId;
    this._worker.on("message", (reply: ReplyMessage) => events.reply(this, reply));
    this._worker.on("error", (error) => (this.lastError = error));
    this._worker.on("exit", (code) => events.exit(this, `exited with code ${code}`));
  }

  get description(): string {
    return `worker thread ${this._threadId}`;
  }

  post(message: JobMessage): void {
    this._worker.postMessage(message);
  }

  setBusy(busy: boolean): void {
    if (busy) this._worker.ref();
    else this._worker.unref();
  }

  terminate(): void {
    // Kept alive until it is gone, so that shutdown({ wait: true }) resolves before the process may end.
    this._worker.ref();
    void this._worker.terminate();
  }
}

/** Options that take the next argument as their value. */
const OPTIONS_WITH_VALUE = new Set(["-e", "--eval", "-p", "--print", "--input-type"]);

/**
 * The Node options of this process a worker process inherits: all but
 * those that say what to run (`-e CODE` would run the parent's script again
 * instead of the worker, and so on recursively), the test runner's, the
 * REPL's, watch mode and the inspector's port.
 */
export function childExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] as string;
    const name = arg.split("=")[0] as string;
    if (OPTIONS_WITH_VALUE.has(name)) {
      if (!arg.includes("=")) i++;
      continue;
    }
    if (/^(-i|--interactive|-c|--check|--test.*|--inspect.*|--watch.*)$/.test(name)) continue;
    kept.push(arg);
  }
  return kept;
}

class ProcessWorker extends PoolWorker {
  private readonly _child: ChildProcess;

  constructor(id: number, events: WorkerEvents) {
    super(id);
    this._child = fork(WORKER_FILE, [], {
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: childExecArgv(),
    });
    this._child.on("message", (reply: ReplyMessage) => events.reply(this, reply));
    this._child.on("error", (error) => {
      this.lastError = error;
      if (this._child.pid === undefined) events.exit(this, "could not start");
    });
    this._child.on("exit", (code, signal) =>
      events.exit(this, signal === null ? `exited with code ${code}` : `was killed by ${signal}`),
    );
  }

  get description(): string {
    return `worker process ${this._child.pid ?? "(not started)"}`;
  }

  post(message: JobMessage): void {
    this._child.send(message);
  }

  setBusy(busy: boolean): void {
    if (busy) {
      this._child.ref();
      this._child.channel?.ref();
    } else {
      this._child.unref();
      this._child.channel?.unref();
    }
  }

  terminate(): void {
    this._child.ref();
    if (this._child.connected) this._child.disconnect();
    else this._child.kill();
  }
}

/** A module reference as the worker imports it: a URL string, a `node:` built-in or a bare package name. */
function moduleSpecifier(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== "string" || module === "") {
    throw new TypeError(`{ module, name }: module must be a non-empty string or a URL, not ${typeof module}`);
  }
  if (isAbsolute(module)) return pathToFileURL(module).href;
  if (module.startsWith("./") || module.startsWith("../")) return pathToFileURL(resolve(module)).href;
  return module;
}

/** What the worker needs to find `fn`; refuses what cannot be sent, saying why. */
export function describeFunction(fn: unknown): { spec: FunctionSpec; label: string } {
  if (typeof fn === "function") {
    const name = fn.name === "" ? "<anonymous>" : fn.name;
    const source = Function.prototype.toString.call(fn);
    if (/\{\s*\[native code\]\s*\}$/.test(source)) {
      throw new TypeError(
        `cannot run ${name} in a worker: it is a native or bound function, whose source is not available; use { module, name } (for example { module: "node:fs", name: "readFileSync" }) or a self-contained function`,
      );
    }
    if (/^class\b/.test(source)) throw new TypeError(`cannot run class ${name} in a worker: a class is not a function to call`);
    const shadowed = globalsShadowedFor(fn, source)[0];
    if (shadowed !== undefined) {
      throw new ReferenceError(
        `function ${name} closes over '${shadowed}', which in the worker would silently be the worker's global '${shadowed}' instead: pass it as an argument or use { module, name }`,
      );
    }
    return { spec: { kind: "source", source, name: fn.name }, label: name };
  }
  if (fn !== null && typeof fn === "object" && "module" in fn && "name" in fn) {
    const { module, name } = fn as { module: string | URL; name: unknown };
    if (typeof name !== "string" || name === "") throw new TypeError("{ module, name }: name must be a non-empty string");
    const specifier = moduleSpecifier(module);
    return { spec: { kind: "ref", module: specifier, name }, label: `${name} of ${specifier}` };
  }
  throw new TypeError(`an executor runs a function or a { module, name } reference, not ${fn === null ? "null" : typeof fn}`);
}

// ---- errors coming back -------------------------------------------------------

type ErrorClass = new (...args: never[]) => Error;

/** The classes an error from a worker is revived as: JavaScript's own, and this package's. */
const KNOWN_ERRORS = new Map<string, ErrorClass>();
for (const cls of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError]) {
  KNOWN_ERRORS.set(cls.name, cls);
}
for (const value of Object.values(exceptions)) {
  if (typeof value === "function" && value.prototype instanceof Error) KNOWN_ERRORS.set(value.name, value as ErrorClass);
}
for (const cls of [BrokenThreadPool, BrokenProcessPool]) KNOWN_ERRORS.set(cls.name, cls);

/** Classes standing for the worker's own error classes, one per name, so that `constructor.name` stays the worker's. */
const REMOTE_CLASSES = new Map<string, ErrorClass>();

function remoteClass(name: string): ErrorClass {
  let cls = REMOTE_CLASSES.get(name);
  if (cls === undefined) {
    cls = { [name]: class extends Error {} }[name] as ErrorClass;
    REMOTE_CLASSES.set(name, cls);
  }
  return cls;
}

const kKinds = Symbol.for("asyncio-ts.errorKinds");

/** Rebuilds what a worker threw: the same class where this side knows it, else a class of the same name. */
export function reviveThrown(thrown: SerializedThrown): unknown {
  if (thrown.kind === "value") return thrown.value;
  const cls = KNOWN_ERRORS.get(thrown.className) ?? remoteClass(thrown.className);
  const error = Reflect.construct(Error, [thrown.message], cls) as Error;
  if (cls.prototype instanceof exceptions.AsyncioBaseError) {
    // The brand the package's instanceof reads (exceptions.ts), normally set by the constructor.
    const kinds: string[] = [];
    for (let c: unknown = cls; c !== exceptions.AsyncioBaseError && typeof c === "function"; c = Object.getPrototypeOf(c)) {
      kinds.push((c as { name: string }).name);
    }
    Object.defineProperty(error, kKinds, { value: kinds, enumerable: false });
  }
  if (error.name !== thrown.name) {
    Object.defineProperty(error, "name", { value: thrown.name, enumerable: false, configurable: true, writable: true });
  }
  Object.defineProperty(error, "stack", { value: thrown.stack, enumerable: false, configurable: true, writable: true });
  Object.assign(error, thrown.props);
  if (thrown.cause !== undefined) {
    Object.defineProperty(error, "cause", {
      value: reviveThrown(thrown.cause),
      enumerable: false,
      configurable: true,
      writable: true,
    });
  }
  if (thrown.errors !== undefined) {
    Object.defineProperty(error, "errors", {
      value: thrown.errors.map(reviveThrown),
      enumerable: false,
      configurable: true,
      writable: true,
    });
  }
  return error;
}

// ---- the pool -----------------------------------------------------------------

let jobIds = 0;

/** The pool both executors are: a queue of jobs and up to `maxWorkers` workers. */
abstract class PoolExecutor extends Executor {
  /** The most workers this pool runs at once. */
  readonly maxWorkers: number;
  private readonly _workers = new Set<PoolWorker>();
  private readonly _idle: PoolWorker[] = [];
  private readonly _queue = new Deque<Job>();
  private _workerIds = 0;
  private _shutdown = false;
  private _stopped: Promise<void> | null = null;
  private _resolveStopped: (() => void) | null = null;
  private readonly _events: WorkerEvents = {
    reply: (worker, reply) => this._onReply(worker, reply),
    exit: (worker, how) => this._onExit(worker, how),
  };

  constructor(options: PoolExecutorOptions = {}) {
    super();
    const maxWorkers = options.maxWorkers ?? availableParallelism();
    if (!Number.isInteger(maxWorkers)) throw new TypeError(`maxWorkers must be an integer, not ${maxWorkers}`);
    if (maxWorkers <= 0) throw new ValueError(`maxWorkers must be greater than 0, got ${maxWorkers}`);
    this.maxWorkers = maxWorkers;
  }

  protected abstract _startWorker(id: number, events: WorkerEvents): PoolWorker;
  protected abstract _broken(message: string): Error;

  /**
   * Schedules `fn(...args)` on a worker and returns a future of its result.
   * `fn` must be self-contained, or a `{ module, name }` reference.
   */
  submit<A extends unknown[], T>(fn: ExecutorFunction<A, T>, ...args: A): ConcurrentFuture<Awaited<T>> {
    if (this._shutdown) throw new RuntimeError("cannot schedule new futures after shutdown");
    const { spec, label } = describeFunction(fn);
    const future = new ConcurrentFuture<Awaited<T>>();
    const id = ++jobIds;
    future._label = label;
    this._queue.push({ id, future: future as ConcurrentFuture<unknown>, message: { id, fn: spec, args }, label });
    this._dispatch();
    return future;
  }

  shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { wait = true, cancelFutures = false } = options;
    this._shutdown = true;
    if (cancelFutures) {
      for (let job = this._queue.shift(); job !== undefined; job = this._queue.shift()) job.future.cancel();
    }
    this._stopped ??= new Promise<void>((resolve) => (this._resolveStopped = resolve));
    this._retireIdle();
    return wait ? this._stopped : Promise.resolve();
  }

  /** Gives queued jobs to idle or new workers. */
  private _dispatch(): void {
    while (this._queue.length > 0) {
      const worker = this._idle.pop() ?? this._spawn();
      if (worker === null) return;
      const job = this._nextRunnableJob();
      if (job === undefined) {
        this._idle.push(worker);
        break;
      }
      this._start(worker, job);
    }
    this._retireIdle();
  }

  private _nextRunnableJob(): Job | undefined {
    for (let job = this._queue.shift(); job !== undefined; job = this._queue.shift()) {
      if (job.future.setRunningOrNotifyCancel()) return job;
    }
    return undefined;
  }

  private _spawn(): PoolWorker | null {
    if (this._workers.size >= this.maxWorkers) return null;
    const worker = this._startWorker(++this._workerIds, this._events);
    this._workers.add(worker);
    return worker;
  }

  private _start(worker: PoolWorker, job: Job): void {
    try {
      worker.post(job.message);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      job.future.setException(
        new TypeError(`the arguments of ${job.label} cannot be sent to a worker (they are structured-cloned): ${why}`),
      );
      this._idle.push(worker);
      return;
    }
    worker.job = job;
    worker.setBusy(true);
  }

  private _onReply(worker: PoolWorker, reply: ReplyMessage): void {
    const job = worker.job;
    if (job === null || job.id !== reply.id) return;
    worker.job = null;
    worker.setBusy(false);
    this._idle.push(worker);
    if (reply.ok) job.future.setResult(reply.value);
    else job.future.setException(reviveThrown(reply.error));
    this._dispatch();
  }

  private _onExit(worker: PoolWorker, how: string): void {
    if (!this._workers.delete(worker)) return;
    const index = this._idle.indexOf(worker);
    if (index >= 0) this._idle.splice(index, 1);
    const job = worker.job;
    if (job !== null) {
      worker.job = null;
      const reason = worker.lastError instanceof Error ? `: ${worker.lastError.name}: ${worker.lastError.message}` : "";
      const error = this._broken(
        `${worker.description} ${how} while running ${job.label}${reason}; the job is lost, the worker will be replaced`,
      );
      if (worker.lastError !== undefined) error.cause = worker.lastError;
      job.future.setException(error);
    }
    this._dispatch();
  }

  /** After shutdown, workers left without work stop. */
  private _retireIdle(): void {
    if (!this._shutdown || this._queue.length > 0) return;
    for (const worker of this._idle.splice(0)) worker.terminate();
    if (this._workers.size > 0 || this._resolveStopped === null) return;
    const resolveStopped = this._resolveStopped;
    this._resolveStopped = null;
    // A child's process handle is released in the close phase that follows its "exit": resolve after that.
    setTimeout(resolveStopped, 0);
  }

  override toString(): string {
    let busy = 0;
    for (const worker of this._workers) if (worker.job !== null) busy++;
    const state = this._shutdown ? " shutdown" : "";
    return `<${this.constructor.name}${state} maxWorkers=${this.maxWorkers} workers=${this._workers.size} busy=${busy} queued=${this._queue.length}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/**
 * Runs functions on up to `maxWorkers` worker threads (Python's
 * `concurrent.futures.ThreadPoolExecutor`). Each thread is a separate
 * JavaScript realm: see the module comment for what can be sent.
 *
 * @example
 * await using pool = new asyncio.ThreadPoolExecutor({ maxWorkers: 2 });
 * const total = await pool.submit((n: number) => { let s = 0; for (let i = 0; i < n; i++) s += i * i; return s; }, 1e7);
 */
export class ThreadPoolExecutor extends PoolExecutor {
  protected _startWorker(id: number, events: WorkerEvents): PoolWorker {
    return new ThreadWorker(id, events);
  }

  protected _broken(message: string): Error {
    return new BrokenThreadPool(message);
  }
}

/**
 * Runs functions on up to `maxWorkers` child Node processes (Python's
 * `concurrent.futures.ProcessPoolExecutor`); messages use the `advanced`
 * (structured clone) serialization.
 */
export class ProcessPoolExecutor extends PoolExecutor {
  protected _startWorker(id: number, events: WorkerEvents): PoolWorker {
    return new ProcessWorker(id, events);
  }

  protected _broken(message: string): Error {
    return new BrokenProcessPool(message);
  }
}
