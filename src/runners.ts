/**
 * `run()` and `Runner` (Python's `asyncio.runners`): make a loop, run the
 * main coroutine in it, then cancel the tasks left behind, shut down the
 * default executor and close the loop. Both refuse to run inside a running
 * loop.
 *
 * Ctrl-C, as in CPython: while `Runner.run()` runs in the main thread and
 * nothing else listens for SIGINT, the first SIGINT cancels the main task
 * (its `finally` blocks run) and `run()` then rejects with
 * `KeyboardInterrupt`; a second SIGINT gives the signal back its default
 * action and re-sends it, ending the process as a second Ctrl-C ends
 * Python. This is the one place the core touches the host process
 * (`process.on`), as CPython's runners touch `signal`.
 */
import type { Context } from "./contextvars.js";
import { copyContext } from "./contextvars.js";
import type { AbstractEventLoop } from "./events.js";
import { _getRunningLoop, newEventLoop, setEventLoop } from "./events.js";
import { CancelledError, KeyboardInterrupt, RuntimeError } from "./exceptions.js";
import type { Future } from "./futures.js";

import type { CoroutineLike, Task } from "./tasks.js";
import { _isCoroutineLike, allTasks } from "./tasks.js";

/** Options of `run()` and `new Runner()`. */
export interface RunnerOptions {
  /** Debug mode for the loop (default: the loop's own default). */
  debug?: boolean;
  /** Makes the loop (default: `newEventLoop()`, which also becomes the thread's current loop). */
  loopFactory?: () => AbstractEventLoop;
}

enum RunnerState {
  CREATED = 0,
  INITIALIZED = 1,
  CLOSED = 2,
}

function checkMain(coro: unknown, where: string): void {
  if (_isCoroutineLike(coro)) return;
  const promiseHint =
    coro !== null && typeof coro === "object" && typeof (coro as { then?: unknown }).then === "function"
      ? ": a Promise is already running; pass the async function itself, run(main) rather than run(main())"
      : "";
  throw new TypeError(`${where} needs a coroutine or a function starting one${promiseHint}`);
}

/**
 * Runs several coroutines in one loop and context, then closes it
 * (Python's `asyncio.Runner`). Use with `await using`, or call `close()`.
 */
export class Runner implements AsyncDisposable {
  private _state = RunnerState.CREATED;
  private _loop: AbstractEventLoop | null = null;
  private _context: Context | null = null;
  private _setEventLoop = false;
  private readonly _debug: boolean | undefined;
  private readonly _loopFactory: (() => AbstractEventLoop) | undefined;

  constructor(options: RunnerOptions = {}) {
    this._debug = options.debug;
    this._loopFactory = options.loopFactory;
  }

  /** Runs `coro` to completion in the runner's loop and returns its result. */
  async run<T>(coro: CoroutineLike<T>, options: { context?: Context } = {}): Promise<T> {
    checkMain(coro, "Runner.run()");
    if (_getRunningLoop() !== null) throw new RuntimeError("Runner.run() cannot be called from a running event loop");
    const loop = this._lazyInit();
    const task = loop.createTask(coro, { context: options.context ?? (this._context as Context) });
    const interrupt = SigintCanceller.install(task);
    try {
      return await loop.runUntilComplete(task);
    } catch (error) {
      if (error instanceof CancelledError && interrupt !== null && interrupt.count > 0 && task.uncancel() === 0) {
        throw new KeyboardInterrupt("interrupted by SIGINT: the main task was cancelled", { cause: error });
      }
      throw error;
    } finally {
      interrupt?.uninstall();
    }
  }

  /** The runner's loop (created on first use). */
  getLoop(): AbstractEventLoop {
    return this._lazyInit();
  }

  /** Cancels leftover tasks, shuts down async generators and the default executor, closes the loop. */
  async close(): Promise<void> {
    if (this._state !== RunnerState.INITIALIZED) return;
    const loop = this._loop as AbstractEventLoop;
    try {
      await cancelAllTasks(loop);
      await loop.runUntilComplete(loop.shutdownAsyncgens());
      await loop.runUntilComplete(loop.shutdownDefaultExecutor());
    } finally {
      if (this._setEventLoop) setEventLoop(null);
      loop.close();
      this._loop = null;
      this._state = RunnerState.CLOSED;
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private _lazyInit(): AbstractEventLoop {
    if (this._state === RunnerState.CLOSED) throw new RuntimeError("Runner is closed");
    if (this._state === RunnerState.INITIALIZED) return this._loop as AbstractEventLoop;
    let loop: AbstractEventLoop;
    if (this._loopFactory === undefined) {
      loop = newEventLoop();
      setEventLoop(loop);
      this._setEventLoop = true;
    } else {
      loop = this._loopFactory();
    }
    if (this._debug !== undefined) loop.setDebug(this._debug);
    this._loop = loop;
    this._context = copyContext();
    this._state = RunnerState.INITIALIZED;
    return loop;
  }
}

/** The slice of Node's `process` that SIGINT handling needs (absent on hosts without one). */
interface HostProcess {
  on(event: "SIGINT", listener: () => void): unknown;
  off(event: "SIGINT", listener: () => void): unknown;
  listenerCount(event: "SIGINT"): number;
  kill(pid: number, signal: "SIGINT"): unknown;
  pid: number;
}

function hostProcess(): HostProcess | null {
  const host = (globalThis as { process?: Partial<HostProcess> }).process;
  return typeof host?.on === "function" && typeof host.listenerCount === "function" ? (host as HostProcess) : null;
}

/** Whether this thread receives signals: told by the backend (`worker_threads.isMainThread`). */
let inMainThread = false;
export function _setIsMainThread(value: boolean): void {
  inMainThread = value;
}

/** The SIGINT listener of one `Runner.run()`: the first signal cancels `task`, the next one is Node's default. */
class SigintCanceller {
  count = 0;
  private readonly _listener = (): void => this._onSigint();

  private constructor(
    private readonly _host: HostProcess,
    private readonly _task: Task<unknown>,
  ) {}

  /** Listens for SIGINT if this is the main thread and nobody else listens; else `null`. */
  static install(task: Task<unknown>): SigintCanceller | null {
    const host = hostProcess();
    if (host === null || !inMainThread || host.listenerCount("SIGINT") > 0) return null;
    const canceller = new SigintCanceller(host, task);
    host.on("SIGINT", canceller._listener);
    return canceller;
  }

  uninstall(): void {
    this._host.off("SIGINT", this._listener);
  }

  private _onSigint(): void {
    this.count += 1;
    if (this.count === 1 && !this._task.done()) {
      this._task.cancel();
      return;
    }
    this.uninstall();
    this._host.kill(this._host.pid, "SIGINT");
  }
}

/** Cancels every task of `loop` and waits for them, reporting any that failed instead. */
async function cancelAllTasks(loop: AbstractEventLoop): Promise<void> {
  const toCancel = [...allTasks(loop)];
  if (toCancel.length === 0) return;
  for (const task of toCancel) task.cancel();
  await loop.runUntilComplete(waitAll(loop, toCancel));
  for (const task of toCancel) {
    if (task.cancelled()) continue;
    const exception = task.exception();
    if (exception !== null && !(exception instanceof CancelledError)) {
      loop.callExceptionHandler({ message: "unhandled exception during asyncio.run() shutdown", exception, task });
    }
  }
}

/** A future done once every one of `futures` is done, whatever their outcome. */
function waitAll(loop: AbstractEventLoop, futures: Future<unknown>[]): Future<void> {
  const all = loop.createFuture<void>();
  let remaining = futures.length;
  const onDone = (): void => {
    remaining -= 1;
    if (remaining === 0 && !all.done()) all.setResult(undefined);
  };
  for (const future of futures) future.addDoneCallback(onDone);
  return all;
}

/**
 * Runs `main` in a new loop and returns its result, then cancels the tasks
 * left behind and closes the loop (Python's `asyncio.run`).
 *
 * @example
 * await asyncio.run(async () => {
 *   await asyncio.sleep(0.1);
 *   return 42;
 * });
 */
export async function run<T>(main: CoroutineLike<T>, options: RunnerOptions = {}): Promise<T> {
  if (_getRunningLoop() !== null) throw new RuntimeError("asyncio.run() cannot be called from a running event loop");
  checkMain(main, "run()");
  const runner = new Runner(options);
  try {
    return await runner.run(main);
  } finally {
    await runner.close();
  }
}
