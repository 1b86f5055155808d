/**
 * The asyncio REPL (`npx asyncio-ts`, Python's `python -m asyncio`): one
 * event loop runs for the whole session, and every input runs as a task on
 * it, so top-level `await asyncio.sleep(1)` works, `asyncio.currentTask()`
 * is a task, and tasks created at the prompt keep running between inputs.
 *
 * In Node the loop and the REPL share one thread: the loop runs with
 * `runForever()` in the background while the REPL waits for input. The
 * REPL is Node's own (`node:repl`, in the main realm like the `node` REPL),
 * with its own evaluator doing the parsing: top-level `await`, declarations
 * that persist between inputs (`const x = await f()`), multi-line input,
 * completion values, `_` and `_error`. Only *where* that evaluator runs
 * changes: each input is handed to a task of the loop, and the evaluator is
 * called inside the task's first step, so the input's code and every
 * continuation of its `await`s belong to that task.
 *
 * Inputs run one at a time: lines that arrive while one runs (typed ahead,
 * or piped) wait their turn, like Python's console, which reads the next
 * line only when the previous input is done.
 *
 * Ctrl-C while an input runs cancels its task (the `CancelledError` is
 * thrown at the `await` it is suspended on; the REPL prints
 * `KeyboardInterrupt`, as Python's does). If the input awaits something the
 * loop cannot cancel (a plain Promise), a second Ctrl-C gives the prompt
 * back and leaves that code running. In a terminal, Ctrl-C in the middle of
 * synchronous code (an endless `while` loop) interrupts it, as in Node's
 * REPL; with piped input, SIGINT is handled between the loop's callbacks
 * only, so synchronous code runs to its end (as in Python's asyncio REPL).
 *
 * Exiting (`.exit`, Ctrl-D, the end of piped input) cancels the tasks left
 * behind, stops and closes the loop, and exits with status 0.
 *
 * Differences from Python's: every input runs in a task, so
 * `asyncio.currentTask()` is a task even in an input without `await`
 * (Python runs those in a plain callback).
 *
 * Limits (Node's REPL underneath): static `import` statements are refused
 * (use `await import("x")`); a `const` declared in an input that uses
 * `await` can be reassigned later, as in Node's REPL; the evaluator is
 * Node's internal one, reached by replacing the server's `eval` property
 * after creation and through the undocumented `domain` option of
 * `repl.start` (checked at start-up; tested on Node 20 and 24).
 */
import { EventEmitter } from "node:events";
import { homedir } from "node:os";
import { join } from "node:path";
import * as repl from "node:repl";
import * as asyncio from "../index.js";
import { packageVersion } from "./package_info.js";

/** Node's REPL evaluator signature. */
type EvalCallback = (err: Error | null, result?: unknown) => void;
type EvalFunction = (code: string, context: object, file: string, cb: EvalCallback) => void;

/** One input being evaluated. */
interface ReplInput {
  readonly code: string;
  readonly context: object;
  readonly file: string;
  readonly cb: EvalCallback;
  task: asyncio.Task<EvalOutcome> | null;
  /** Ctrl-C was pressed while this input ran. */
  interrupted: boolean;
}

/** What Node's evaluator reported: a value, or no value at all (empty input). */
interface EvalOutcome {
  readonly hasValue: boolean;
  readonly value: unknown;
}

/**
 * Stands in for the `domain` Node's REPL would otherwise create. A real
 * domain would catch the input's errors itself (and never report them to
 * the evaluator's callback, so the input's task could not finish); this one
 * binds nothing and only carries the REPL's `error` event, which prints.
 */
class ReplErrorChannel extends EventEmitter {
  bind<F>(fn: F): F {
    return fn;
  }
  enter(): void {}
  exit(): void {}
  add(): void {}
  remove(): void {}
}

/** The REPL server, with the internals this module relies on. */
interface AsyncioReplServer extends repl.REPLServer {
  eval: EvalFunction;
}

function banner(): string {
  return (
    `asyncio REPL (asyncio-ts ${packageVersion()}) on Node.js ${process.version} ${process.platform}\n` +
    'Use "await" directly instead of "asyncio.run()".\n' +
    'Type ".help" for more information.\n' +
    '>>> import * as asyncio from "asyncio-ts"\n'
  );
}

/**
 * Runs the REPL until the user leaves it; resolves with the exit status
 * once the loop is stopped and closed.
 */
export function runRepl(): Promise<number> {
  return new AsyncioRepl().run();
}

/** The session: the loop, Node's REPL server around it, and the input being evaluated. */
class AsyncioRepl {
  private readonly loop = asyncio.newEventLoop();
  private readonly loopStopped: Promise<void>;
  /** Every input runs in this context, so context variables set at the prompt keep their values. */
  private readonly context = asyncio.copyContext();
  private readonly errors = new ReplErrorChannel();
  private readonly server: AsyncioReplServer;
  /** Node's own evaluator and the server's original `emit`/`close`, which this session wraps. */
  private readonly nodeEval: EvalFunction;
  private readonly emit: (event: string | symbol, ...args: unknown[]) => boolean;
  private readonly close: () => void;
  /** The input whose task runs now; inputs run one at a time. */
  private running: ReplInput | null = null;
  private readonly waiting: ReplInput[] = [];
  /** `line` events held back while an input runs, and whether the end of input came after them. */
  private readonly heldLines: string[] = [];
  private closeHeld = false;

  constructor() {
    asyncio.setEventLoop(this.loop);
    this.loopStopped = this.loop.runForever();
    process.stderr.write(banner());
    this.server = repl.start({
      prompt: ">>> ",
      useGlobal: true,
      // Node's evaluator watches SIGINT during synchronous code; that needs raw-mode Ctrl-C (a terminal).
      breakEvalOnSigint: process.stdin.isTTY === true && process.stdout.isTTY === true,
      domain: this.errors,
    } as repl.ReplOptions & { domain: ReplErrorChannel }) as AsyncioReplServer;
    if ((this.server as unknown as { _domain: unknown })._domain !== this.errors) {
      throw new Error(`the asyncio REPL does not support this version of Node.js (${process.version})`);
    }
    (globalThis as { asyncio?: unknown }).asyncio = asyncio;
    this.nodeEval = this.server.eval;
    this.emit = this.server.emit.bind(this.server) as (event: string | symbol, ...args: unknown[]) => boolean;
    this.close = this.server.close.bind(this.server);
    this.wrapServer();
    if (this.server.terminal) this.setupHistory();
  }

  /** Resolves with the exit status once the input has ended and the loop is closed. */
  run(): Promise<number> {
    // Outside a terminal Ctrl-C is a signal; in a terminal it is a key, seen as the server's SIGINT event.
    const onSigint = (): void => {
      this.server.emit("SIGINT");
    };
    if (!this.server.terminal) process.on("SIGINT", onSigint);
    // Errors thrown outside the loop (a Node callback, an unhandled rejection) are printed, not fatal.
    const onUncaught = (error: unknown): void => {
      this.errors.emit("error", error);
    };
    process.on("uncaughtException", onUncaught);
    return new Promise<number>((resolve) => {
      this.server.once("close", () => {
        process.off("SIGINT", onSigint);
        void shutdown(this.loop, this.loopStopped).then(
          () => resolve(0),
          (error: unknown) => {
            process.stderr.write(`error while closing the event loop: ${String(error)}\n`);
            resolve(1);
          },
        );
      });
    });
  }

  private setupHistory(): void {
    const historyFile = process.env.ASYNCIO_TS_REPL_HISTORY ?? join(homedir(), ".asyncio_ts_repl_history");
    if (historyFile !== "") this.server.setupHistory(historyFile, () => {});
  }

  /** Routes evaluation through the loop, holds input back while an input runs, and turns Ctrl-C into cancellation. */
  private wrapServer(): void {
    this.server.eval = (code, context, file, cb) => this.submit({ code, context, file, cb, task: null, interrupted: false });
    this.server.emit = ((event: string | symbol, ...args: unknown[]): boolean => {
      if (event === "line" && (this.busy() || this.heldLines.length > 0)) {
        this.heldLines.push(args[0] as string);
        return true;
      }
      if (event === "SIGINT" && this.interrupt()) return true;
      return this.emit(event, ...args);
    }) as typeof this.server.emit;
    // The end of input waits for the held lines; `.exit` does not.
    this.server.close = () => {
      if (this.busy() || this.heldLines.length > 0) this.closeHeld = true;
      else this.close();
    };
    this.server.defineCommand("exit", {
      help: "Exit the REPL (the tasks left are cancelled and the loop is closed)",
      action: () => {
        this.heldLines.length = 0;
        this.close();
      },
    });
  }

  private busy(): boolean {
    return this.running !== null || this.waiting.length > 0;
  }

  private submit(input: ReplInput): void {
    if (input.code.trim() === "") {
      input.cb(null);
      return;
    }
    this.waiting.push(input);
    if (this.running === null) this.startNext();
  }

  private startNext(): void {
    const input = this.waiting.shift();
    if (input === undefined) return;
    this.running = input;
    const task = this.loop.createTask(() => this.evaluate(input), { context: this.context });
    input.task = task;
    task.addDoneCallback(() => this.finish(input, task));
  }

  /** Runs Node's evaluator on the input (inside the input's task): its callback settles the task. */
  private evaluate(input: ReplInput): Promise<EvalOutcome> {
    return new Promise<EvalOutcome>((resolve, reject) => {
      // Node's REPL prints a value only when its evaluator passed one (`cb(null)` means "nothing to print").
      this.nodeEval.call(this.server, input.code, input.context, input.file, (...outcome: [Error | null, unknown?]) => {
        const [err, value] = outcome;
        if (err) reject(err);
        else resolve({ hasValue: outcome.length >= 2, value });
      });
    });
  }

  private finish(input: ReplInput, task: asyncio.Task<EvalOutcome>): void {
    if (this.running !== input) {
      // Abandoned after a second Ctrl-C: the prompt moved on; only retrieve the outcome.
      if (!task.cancelled()) task.exception();
      return;
    }
    this.running = null;
    reportOutcome(input, task, this.server.output);
    this.next();
  }

  /** Starts the next input, or lets the held lines (and the end of input) through. */
  private next(): void {
    if (this.waiting.length > 0) {
      this.startNext();
      return;
    }
    while (!this.busy() && this.heldLines.length > 0) this.emit("line", this.heldLines.shift());
    if (!this.busy() && this.heldLines.length === 0 && this.closeHeld) {
      this.closeHeld = false;
      this.close();
    }
  }

  /**
   * Ctrl-C: the first cancels the running input's task; a second one stops
   * waiting for it. False when there is no input to interrupt, and for the
   * second Ctrl-C in a terminal, where Node's evaluator stops waiting itself.
   */
  private interrupt(): boolean {
    const input = this.running;
    if (input === null || input.task === null) return false;
    if (input.interrupted) {
      if (this.server.terminal) return false;
      this.abandon(input);
      return true;
    }
    input.interrupted = true;
    const task = input.task;
    task.cancel("KeyboardInterrupt");
    this.loop.callLater(STUCK_HINT_DELAY, () => {
      if (!task.done() && this.running === input) this.server.output.write(STUCK_HINT);
    });
    return true;
  }

  /** Gives the prompt back while the input's code may still be running. */
  private abandon(input: ReplInput): void {
    this.running = null;
    const message = "Script execution was interrupted by SIGINT: the input's code may still be running";
    const error = new Error(message);
    error.stack = `Error: ${message}`;
    input.cb(error);
    this.next();
  }
}

const STUCK_HINT =
  "(the input awaits something asyncio cannot cancel, such as a plain Promise: press Ctrl-C again to stop waiting for it)\n";

/** Hands an input's outcome to Node's REPL, which prints it and shows the prompt. */
function reportOutcome(input: ReplInput, task: asyncio.Task<EvalOutcome>, output: NodeJS.WritableStream): void {
  if (task.cancelled()) {
    if (input.interrupted) {
      output.write("KeyboardInterrupt\n");
      input.cb(null);
    } else {
      input.cb(cancelledErrorOf(task));
    }
    return;
  }
  const error = task.exception();
  if (error !== null) {
    input.cb(error as Error);
    return;
  }
  const outcome = task.result();
  if (outcome.hasValue) input.cb(null, outcome.value);
  else input.cb(null);
}

function cancelledErrorOf(task: asyncio.Task<unknown>): Error {
  try {
    task.result();
  } catch (error) {
    return error as Error;
  }
  return new asyncio.CancelledError();
}

/** How long after Ctrl-C an input that did not end gets a hint (seconds). */
const STUCK_HINT_DELAY = 0.2;

/** How long tasks left at exit get to finish after being cancelled (ms). */
const SHUTDOWN_GRACE_MS = 1000;

/** Cancels the tasks left behind, gives them a moment to finish, then stops and closes the loop. */
async function shutdown(loop: asyncio.AbstractEventLoop, loopStopped: Promise<void>): Promise<void> {
  const leftover = [...asyncio.allTasks(loop)];
  for (const task of leftover) task.cancel();
  if (leftover.length > 0) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SHUTDOWN_GRACE_MS);
    });
    await Promise.race([Promise.allSettled(leftover), grace]);
    clearTimeout(timer);
    for (const task of leftover) {
      if (task.done() && !task.cancelled()) task.exception();
    }
  }
  loop.stop();
  await loopStopped;
  asyncio.setEventLoop(null);
  loop.close();
}
