/**
 * Unix signal handlers of the loop (CPython's `add_signal_handler` /
 * `remove_signal_handler` in `unix_events`) on Node's `process.on(sig)`.
 * A handler is a `Handle` made once, as in CPython; each delivery puts it
 * on the loop's ready queue, so the callback runs inside a loop iteration
 * (or waits there while the loop is stopped). Removing the last handler of
 * a signal removes the Node listener, which gives the signal back to its
 * default action; `loop.close()` removes them all. Node's signal watchers
 * do not keep the process alive, so neither does a handler.
 *
 * Errors as in CPython: a name or number that is not a signal of this
 * system is a `ValueError`; `SIGKILL` and `SIGSTOP` cannot be caught
 * (`RuntimeError`, as CPython raises when `signal.signal` fails with
 * `EINVAL`); outside the main thread signals cannot be handled
 * (`RuntimeError`: Node delivers them to the main thread only).
 */
import os from "node:os";
import { isMainThread } from "node:worker_threads";
import { isCoroutineFunction } from "../coroutines.js";
import type { AbstractEventLoop, Callback } from "../events.js";
import { Handle } from "../events.js";
import { RuntimeError, ValueError } from "../exceptions.js";

const SIGNALS = os.constants.signals as Record<string, number>;
const NAMES = new Map<number, NodeJS.Signals>(Object.entries(SIGNALS).map(([name, n]) => [n, name as NodeJS.Signals]));
/** Signals whose disposition cannot be changed (the kernel refuses: `EINVAL`). */
const UNCATCHABLE = new Set(["SIGKILL", "SIGSTOP"]);

/**
 * The name and number of signal `sig` (a number, or a name such as
 * `"SIGINT"`; case-insensitive, `"INT"` allowed). Throws `ValueError` for
 * anything that is not a signal Node knows on this system, `TypeError` for
 * something that is neither a number nor a string.
 */
export function parseSignal(sig: unknown): [NodeJS.Signals, number] {
  if (typeof sig === "number") {
    const name = Number.isInteger(sig) ? NAMES.get(sig) : undefined;
    if (name === undefined) {
      throw new ValueError(
        `invalid signal number ${sig}: not one of the named signals of this system (Node handles only those: os.constants.signals)`,
      );
    }
    return [name, sig];
  }
  if (typeof sig !== "string") throw new TypeError(`sig must be a signal number or name, not ${typeof sig}`);
  const upper = sig.toUpperCase();
  const name = upper.startsWith("SIG") ? upper : `SIG${upper}`;
  const number = SIGNALS[name];
  if (number === undefined) throw new ValueError(`invalid signal name ${JSON.stringify(sig)}`);
  return [name as NodeJS.Signals, number];
}

/** One loop's signal handlers: at most one handle and one Node listener per signal. */
export class SignalHandlers {
  private readonly _handlers = new Map<NodeJS.Signals, { handle: Handle; listener: () => void }>();

  constructor(private readonly _loop: AbstractEventLoop) {}

  /** `loop.addSignalHandler`: replaces the previous handler of the signal, if any. */
  add<A extends unknown[]>(sig: number | string, callback: Callback<A>, args: A): void {
    if (isCoroutineFunction(callback)) throw new TypeError("coroutines cannot be used with addSignalHandler()");
    if (typeof callback !== "function")
      throw new TypeError(`a function was expected by addSignalHandler(), got ${typeof callback}`);
    const [name, number] = parseSignal(sig);
    if (this._loop.isClosed()) throw new RuntimeError("Event loop is closed");
    if (!isMainThread)
      throw new RuntimeError("set_wakeup_fd only works in main thread: signals reach only the main thread in Node");
    if (UNCATCHABLE.has(name)) throw new RuntimeError(`sig ${number} cannot be caught`);
    const handle = new Handle(callback as Callback<unknown[]>, args.length === 0 ? null : args, this._loop);
    const previous = this._handlers.get(name);
    const listener = (): void => this._deliver(name, handle);
    try {
      process.on(name, listener);
    } catch (error) {
      throw new RuntimeError(`sig ${number} cannot be caught: ${(error as Error).message}`, { cause: error });
    }
    if (previous !== undefined) process.off(name, previous.listener);
    this._handlers.set(name, { handle, listener });
  }

  /** Node's listener: the handle goes on the ready queue (a cancelled one removes itself, as in CPython). */
  private _deliver(name: NodeJS.Signals, handle: Handle): void {
    if (this._handlers.get(name)?.handle !== handle || this._loop.isClosed()) return;
    if (handle.cancelled()) this.remove(name);
    else this._loop._scheduleReady(handle);
  }

  /** `loop.removeSignalHandler`: `true` if the signal had a handler; its default action applies again. */
  remove(sig: number | string): boolean {
    const [name] = parseSignal(sig);
    const entry = this._handlers.get(name);
    if (entry === undefined) return false;
    this._handlers.delete(name);
    process.off(name, entry.listener);
    return true;
  }

  /** Removes every handler (at `loop.close()`). */
  removeAll(): void {
    for (const name of [...this._handlers.keys()]) this.remove(name);
  }
}
