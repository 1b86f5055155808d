/**
 * The default event loop on Node (Python's `unix_events` for this
 * platform): `EventLoop`, driven by Node's own libuv loop, and
 * `DefaultEventLoopPolicy`. The scheduler below is how the loop waits: a
 * `setImmediate` to let Node's I/O run, one ref'd `setTimeout` for the
 * earliest timer (or a long one that only keeps the process alive while
 * the loop runs idle), nothing at all once the loop has stopped.
 */
import { isMainThread } from "node:worker_threads";
import type { EventLoopOptions, LoopScheduler } from "../base_events.js";
import { BaseEventLoop } from "../base_events.js";
import type { AbstractEventLoop } from "../events.js";
import { _setDefaultPolicyFactory, BaseDefaultEventLoopPolicy } from "../events.js";

/** Node's timers take at most 2^31-1 ms; a longer sleep is re-armed when this one ends. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Waits on Node's timers and check phase; see the module comment. */
export class NodeScheduler implements LoopScheduler {
  readonly clockResolution = 0.001;
  private _timer: ReturnType<typeof setTimeout> | null = null;

  yieldToHost(tick: () => void): void {
    setImmediate(tick);
  }

  sleep(deadline: number | null, tick: () => void): void {
    const ms = deadline === null ? MAX_TIMER_MS : Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil((deadline - this.time()) * 1000)));
    this._timer = setTimeout(() => {
      this._timer = null;
      tick();
    }, ms);
  }

  cancelSleep(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  release(): void {
    this.cancelSleep();
  }

  time(): number {
    return performance.now() / 1000;
  }
}

/** The default event loop: asyncio's loop, running inside Node's. */
export class EventLoop extends BaseEventLoop {
  constructor(options: EventLoopOptions = {}, scheduler: LoopScheduler = new NodeScheduler()) {
    super(scheduler, options);
  }
}

/** The default policy: an `EventLoop` per thread, created on demand in the main thread only. */
export class DefaultEventLoopPolicy extends BaseDefaultEventLoopPolicy {
  protected _loopFactory(): AbstractEventLoop {
    return new EventLoop();
  }

  protected _isMainThread(): boolean {
    return isMainThread;
  }
}

_setDefaultPolicyFactory(() => new DefaultEventLoopPolicy());
