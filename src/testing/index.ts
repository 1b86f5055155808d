/**
 * Testing support (`asyncio-ts/testing`): `VirtualTimeLoop`, an `EventLoop`
 * whose clock is virtual, and `runVirtual`. With `autojump` (the default)
 * the clock jumps to the next timer whenever nothing else is ready, after
 * giving Node one turn to deliver I/O, so `sleep(3600)` completes at once
 * and timing tests are exact. Without it, time moves only by `advance()`.
 */
import type { EventLoopOptions, LoopScheduler } from "../base_events.js";
import { ValueError } from "../exceptions.js";
import { EventLoop, runAfterMicrotasks } from "../node/node_events.js";
import type { RunnerOptions } from "../runners.js";
import { run } from "../runners.js";
import type { CoroutineLike } from "../tasks.js";

/** Node's timers take at most 2^31-1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function keepAlive(): void {}

/** Options of `VirtualTimeLoop`. */
export interface VirtualTimeLoopOptions extends EventLoopOptions {
  /** Jump to the next timer when nothing is ready (default `true`). */
  autojump?: boolean;
  /** The clock's starting value, in seconds (default 0). */
  start?: number;
}

/** A scheduler whose clock only moves when told to (or by autojump). */
class VirtualScheduler implements LoopScheduler {
  readonly clockResolution = 1e-9;
  now: number;
  private readonly _autojump: boolean;
  private _immediate: ReturnType<typeof setImmediate> | null = null;
  /** Keeps the process alive while the loop runs (it may wait for real I/O or for `advance()`). */
  private _keepAlive: ReturnType<typeof setInterval> | null = null;

  constructor(autojump: boolean, start: number) {
    this._autojump = autojump;
    this.now = start;
  }

  started(): void {
    this._keepAlive ??= setInterval(keepAlive, MAX_TIMER_MS);
  }

  stopped(): void {
    this.cancelSleep();
    if (this._keepAlive !== null) {
      clearInterval(this._keepAlive);
      this._keepAlive = null;
    }
  }

  yieldToHost(tick: () => void): void {
    setImmediate(tick);
  }

  afterMicrotasks(fn: () => void): void {
    runAfterMicrotasks(fn);
  }

  sleep(deadline: number | null, tick: () => void): void {
    this.cancelSleep();
    // An infinite deadline (sleep(Infinity)) is never reached: the loop waits as if it had none.
    if (deadline === null || deadline === Number.POSITIVE_INFINITY || !this._autojump) return;
    // One macrotask first, so that pending I/O callbacks and microtasks can make something ready.
    this._immediate = setImmediate(() => {
      this._immediate = null;
      if (deadline > this.now) this.now = deadline;
      tick();
    });
  }

  cancelSleep(): void {
    if (this._immediate !== null) {
      clearImmediate(this._immediate);
      this._immediate = null;
    }
  }

  time(): number {
    return this.now;
  }
}

/** An `EventLoop` whose `time()` is virtual (see the module comment). */
export class VirtualTimeLoop extends EventLoop {
  private readonly _virtual: VirtualScheduler;

  constructor(options: VirtualTimeLoopOptions = {}) {
    const scheduler = new VirtualScheduler(options.autojump ?? true, options.start ?? 0);
    super(options, scheduler);
    this._virtual = scheduler;
  }

  /** Moves the clock forward by `seconds`; timers now due run in the next iteration. */
  advance(seconds: number): void {
    if (typeof seconds !== "number" || Number.isNaN(seconds) || seconds < 0) {
      throw new ValueError(`advance() needs a non-negative number of seconds, got ${String(seconds)}`);
    }
    this._virtual.now += seconds;
    if (!this.isClosed()) this.callSoonThreadsafe(() => {});
  }
}

/** Options of `runVirtual`: `run()`'s, and the virtual clock's. */
export interface RunVirtualOptions extends Omit<RunnerOptions, "loopFactory">, VirtualTimeLoopOptions {}

/** `run(main)` on a `VirtualTimeLoop`. */
export function runVirtual<T>(main: CoroutineLike<T>, options: RunVirtualOptions = {}): Promise<T> {
  const { debug, ...loopOptions } = options;
  const runOptions: RunnerOptions = { loopFactory: () => new VirtualTimeLoop(loopOptions) };
  if (debug !== undefined) runOptions.debug = debug;
  return run(main, runOptions);
}
