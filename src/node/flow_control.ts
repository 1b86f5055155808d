/**
 * Write flow control for the backend's transports that are not stream
 * `Transport`s (UDP endpoints, write pipes): CPython's `_FlowControlMixin`
 * as a part a transport holds rather than a base class, since those
 * transports derive from `DatagramTransport` or `WriteTransport`, not from
 * `FlowControlTransport`. The transport calls `maybePause()` after queueing
 * and `maybeResume()` after its queue shrank, from inside loop callbacks.
 */
import type { AbstractEventLoop } from "../events.js";
import type { BaseProtocol } from "../protocols.js";
import type { WriteBufferLimits } from "../transports.js";
import { DEFAULT_HIGH_WATER, resolveWriteBufferLimits } from "../transports.js";

/** What `WriteFlow` needs of its transport. */
export interface FlowControlled {
  getWriteBufferSize(): number;
  getProtocol(): BaseProtocol;
}

/**
 * High- and low-water marks and the paused state of one transport.
 *
 * Invariant: `paused` is true exactly between a `pauseWriting()` and the
 * next `resumeWriting()` sent to the protocol.
 */
export class WriteFlow {
  paused = false;
  private _high = DEFAULT_HIGH_WATER;
  private _low = DEFAULT_HIGH_WATER / 4;

  constructor(
    private readonly _loop: AbstractEventLoop,
    private readonly _transport: FlowControlled,
  ) {}

  setLimits(limits: WriteBufferLimits = {}): void {
    [this._low, this._high] = resolveWriteBufferLimits(limits);
    this.maybePause();
  }

  limits(): [number, number] {
    return [this._low, this._high];
  }

  maybePause(): void {
    if (this.paused || this._transport.getWriteBufferSize() <= this._high) return;
    this.paused = true;
    this._call("pauseWriting");
  }

  maybeResume(): void {
    if (!this.paused || this._transport.getWriteBufferSize() > this._low) return;
    this.paused = false;
    this._call("resumeWriting");
  }

  private _call(method: "pauseWriting" | "resumeWriting"): void {
    const protocol = this._transport.getProtocol();
    try {
      protocol[method]();
    } catch (error) {
      this._loop.callExceptionHandler({
        message: `protocol.${method}() failed`,
        exception: error,
        transport: this._transport,
        protocol,
      });
    }
  }
}
