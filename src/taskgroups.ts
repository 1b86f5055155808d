/**
 * Task groups (Python's `asyncio.taskgroups`): `taskGroup(body)` and
 * `TaskGroup`, with CPython 3.13's semantics.
 *
 * Python writes `async with asyncio.TaskGroup() as tg: ...`; here the
 * block is a body function given the group, in either style:
 *
 * ```ts
 * await asyncio.taskGroup(async (tg) => { tg.createTask(a); tg.createTask(b); });
 * yield* asyncio.taskGroup(function* (tg) { tg.createTask(a()); yield* asyncio.sleep(1); });
 * ```
 *
 * The body runs in the task that enters the group (the parent task). The
 * scope waits for the body and then for every child. The first child that
 * fails aborts the group: the other children are cancelled, and so is the
 * parent (to interrupt the body), a request the group takes back with
 * `uncancel()` on exit. Failures (of children, and of the body itself) are
 * raised together as an `ExceptionGroup`; a `CancelledError` is never
 * wrapped. A cancellation of the parent from outside cancels the children
 * and propagates once they are done.
 */
import { Coro, isGeneratorObject } from "./coroutines.js";
import type { AbstractEventLoop } from "./events.js";
import { getRunningLoop } from "./events.js";
import { CancelledError, ExceptionGroup, RuntimeError } from "./exceptions.js";
import type { Coroutine, Future } from "./futures.js";
import type { BodyResult } from "./scope_body.js";
import { checkBody, NO_ERROR, runBody } from "./scope_body.js";
import type { CoroutineLike, Task, TaskOptions } from "./tasks.js";
import { currentTask } from "./tasks.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** A task group's body: given the group, returns what the scope returns. */
export type TaskGroupBody<T> = (tg: TaskGroup) => BodyResult<T>;

/** Options of `TaskGroup.createTask`. */
export type TaskGroupTaskOptions = Pick<TaskOptions, "name" | "context">;

/**
 * A group of tasks whose lifetime is a block of code (Python's
 * `asyncio.TaskGroup`). Entered once, by `taskGroup(body)` or by
 * `new TaskGroup().run(body)`.
 */
export class TaskGroup {
  /** Set on entry, never cleared: a group is entered once. */
  _entered = false;
  /** Set once the body is done and the scope waits for the children. */
  _exiting = false;
  /** Set once the group cancels its children; no new child may start then. */
  _aborting = false;
  _loop: AbstractEventLoop | null = null;
  /** The task that entered the group; `null` before entry and after exit. */
  _parentTask: Task<unknown> | null = null;
  /** The group cancelled its parent: it must `uncancel()` it on exit. */
  _parentCancelRequested = false;
  /** The children not done yet. */
  _tasks = new Set<Task<unknown>>();
  /** What the children (and, on exit, the body) failed with. */
  _errors: unknown[] = [];
  /** Settled when the last child is done, while the scope waits for them. */
  _onCompletedFut: Future<boolean> | null = null;
  private readonly _onTaskDone = (task: Future<unknown>): void => this._childDone(task as Task<unknown>);

  /**
   * Enters the group, runs `body(this)` in the current task, waits for the
   * children, and leaves the group (Python's `async with tg:`).
   */
  run<T>(body: TaskGroupBody<T>): Coro<T> {
    checkBody(body, "TaskGroup.run()");
    return new Coro(() => taskGroupScope(this, body), "taskGroup");
  }

  /**
   * Starts `coro` as a child task of the group. Refused (and `coro` closed,
   * so that it never runs) before the group is entered, once it is
   * finished, and while it is shutting down after a failure.
   */
  createTask<T>(coro: CoroutineLike<T>, options: TaskGroupTaskOptions = {}): Task<T> {
    if (!this._entered) {
      closeCoroutine(coro);
      throw new RuntimeError(`TaskGroup ${this} has not been entered`);
    }
    if (this._exiting && this._tasks.size === 0) {
      closeCoroutine(coro);
      throw new RuntimeError(`TaskGroup ${this} is finished`);
    }
    if (this._aborting) {
      closeCoroutine(coro);
      throw new RuntimeError(`TaskGroup ${this} is shutting down`);
    }
    const task = (this._loop as AbstractEventLoop).createTask(coro, options);
    // The done callback is always scheduled, even for an eager task already
    // done, so that a failure never cancels the parent too early (gh-128550).
    this._tasks.add(task as Task<unknown>);
    task.addDoneCallback(this._onTaskDone);
    if (this._aborting && !task.done()) task.cancel();
    return task;
  }

  /** Python's `__aenter__`. */
  _enter(loop: AbstractEventLoop): void {
    if (this._entered) throw new RuntimeError(`TaskGroup ${this} has already been entered`);
    this._loop ??= loop;
    const parent = currentTask(this._loop);
    if (parent === null) throw new RuntimeError(`TaskGroup ${this} cannot determine the parent task`);
    this._parentTask = parent;
    this._entered = true;
  }

  /**
   * Python's `__aexit__`: waits for the children, then throws what the
   * group raises, or returns when there is nothing to raise. `error` is
   * what the body threw, or `NO_ERROR`.
   */
  *_exit(error: unknown): Coroutine<void> {
    try {
      yield* this._exitInner(error);
    } finally {
      this._parentTask = null;
      this._errors = [];
    }
  }

  private *_exitInner(error: unknown): Coroutine<void> {
    this._exiting = true;
    const bodyFailed = error !== NO_ERROR;
    let propagateCancellation: unknown = bodyFailed && error instanceof CancelledError ? error : NO_ERROR;
    // The parent is being cancelled from outside, or the body failed.
    if (bodyFailed && !this._aborting) this._abort();

    // The parent may be cancelled (again) while it waits: then the wait starts over.
    while (this._tasks.size > 0) {
      this._onCompletedFut ??= (this._loop as AbstractEventLoop).createFuture<boolean>();
      try {
        yield* this._onCompletedFut;
      } catch (cancelled) {
        if (!(cancelled instanceof CancelledError)) throw cancelled;
        if (!this._aborting) {
          // The parent is cancelled from outside while the children run.
          propagateCancellation = cancelled;
          this._abort();
        }
      }
      this._onCompletedFut = null;
    }

    const parent = this._parentTask as Task<unknown>;
    // The group's own cancel request is taken back; if none remains, nothing is propagated.
    if (this._parentCancelRequested && parent.uncancel() === 0) propagateCancellation = NO_ERROR;
    // A cancellation is propagated, unless there are errors: those have priority.
    if (propagateCancellation !== NO_ERROR && this._errors.length === 0) throw propagateCancellation;
    if (bodyFailed && !(error instanceof CancelledError)) this._errors.push(error);
    if (this._errors.length > 0) {
      // A cancel request from outside is kept pending (uncancel then cancel keeps the count).
      if (parent.cancelling() > 0) {
        parent.uncancel();
        parent.cancel();
      }
      throw new ExceptionGroup("unhandled errors in a TaskGroup", this._errors);
    }
  }

  /** Cancels the children not done yet; from now on no child may start. */
  _abort(): void {
    this._aborting = true;
    for (const task of this._tasks) {
      if (!task.done()) task.cancel();
    }
  }

  /** Done callback of every child. */
  private _childDone(task: Task<unknown>): void {
    this._tasks.delete(task);
    const completed = this._onCompletedFut;
    if (completed !== null && this._tasks.size === 0 && !completed.done()) completed.setResult(true);
    if (task.cancelled()) return;
    const exception = task.exception();
    if (!task._hasException) return;
    this._errors.push(exception);
    const parent = this._parentTask as Task<unknown>;
    if (parent.done()) {
      (this._loop as AbstractEventLoop).callExceptionHandler({
        message: `Task ${task} has errored out but its parent task ${parent} is already completed`,
        exception,
        task,
      });
      return;
    }
    if (!this._aborting && !this._parentCancelRequested) {
      // Interrupt the body; the request is taken back on exit.
      this._abort();
      this._parentCancelRequested = true;
      parent.cancel();
    }
  }

  toString(): string {
    const info: string[] = [];
    if (this._tasks.size > 0) info.push(`tasks=${this._tasks.size}`);
    if (this._errors.length > 0) info.push(`errors=${this._errors.length}`);
    if (this._aborting) info.push("cancelling");
    else if (this._entered) info.push("entered");
    return info.length === 0 ? "<TaskGroup>" : `<TaskGroup ${info.join(" ")}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/** The scope: enter, run the body, wait for the children, raise what is to be raised. */
function* taskGroupScope<T>(tg: TaskGroup, body: TaskGroupBody<T>): Coroutine<T> {
  const loop = getRunningLoop();
  tg._enter(loop);
  let result: T | undefined;
  let error: unknown = NO_ERROR;
  try {
    result = yield* runBody(body, tg, loop);
  } catch (thrown) {
    error = thrown;
  }
  yield* tg._exit(error);
  return result as T;
}

/** Closes a coroutine that will never run (Python's `coro.close()`); functions have nothing to close. */
function closeCoroutine(coro: unknown): void {
  try {
    if (isGeneratorObject(coro)) coro.return(undefined);
    else if (coro instanceof Coro) (coro as Coro<unknown>)[Symbol.iterator]().return(undefined);
  } catch {
    // A Coro consumed elsewhere, or a generator whose cleanup threw: there is nothing left to close.
  }
}

/**
 * Runs `body(tg)` in a new task group: children started with
 * `tg.createTask()` are awaited before the group is left; the first
 * failure cancels the rest, and failures are raised together as an
 * `ExceptionGroup`.
 *
 * @example
 * const [t1, t2] = await asyncio.taskGroup(async (tg) => [
 *   tg.createTask(() => fetchA()),
 *   tg.createTask(() => fetchB()),
 * ]);
 * console.log(t1.result(), t2.result()); // both done here
 */
export function taskGroup<T>(body: TaskGroupBody<T>): Coro<T> {
  return new TaskGroup().run(body);
}
