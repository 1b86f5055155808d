/**
 * An in-memory connection for unit tests of the streams: two transports
 * joined back to back, behaving as a socket pair does. Written bytes sit
 * in the writer's buffer until the loop delivers them (in chunks of at most
 * `chunk` bytes, one chunk per loop callback) to a peer that is reading; a
 * paused peer leaves them buffered, so the writer's flow control
 * (`pauseWriting`/`resumeWriting` at the water marks) engages as it would
 * on a socket. `writeEof` becomes the peer's `eofReceived`, `close` flushes
 * and then ends both sides, `abort` drops the buffer.
 */
import type { AbstractEventLoop, BaseProtocol, Protocol, WriteBufferLimits } from "asyncio-ts";
import { Transport } from "asyncio-ts";

export class MemoryTransport extends Transport {
  private readonly _loop: AbstractEventLoop;
  private _protocol: Protocol;
  private _high = 64 * 1024;
  private _low = 16 * 1024;
  private _protocolPaused = false;
  peer: MemoryTransport | null = null;
  private readonly _chunk: number;
  private _outgoing: Buffer[] = [];
  private _buffered = 0;
  private _reading = true;
  private _closing = false;
  private _eofWritten = false;
  private _eofDelivered = false;
  private _lost = false;
  private _delivering = false;
  /** Every pause/resume of reading, for assertions. */
  readonly readingLog: string[] = [];
  /** The largest write-buffer size seen. */
  maxBuffered = 0;

  constructor(loop: AbstractEventLoop, protocol: Protocol, chunk: number, extra: Record<string, unknown>) {
    super(extra);
    this._loop = loop;
    this._protocol = protocol;
    this._chunk = chunk;
  }

  /** Two connected transports; their protocols get `connectionMade` on the next loop iteration. */
  static pair(loop: AbstractEventLoop, a: Protocol, b: Protocol, chunk = 64 * 1024): [MemoryTransport, MemoryTransport] {
    const ta = new MemoryTransport(loop, a, chunk, { peername: "b", sockname: "a" });
    const tb = new MemoryTransport(loop, b, chunk, { peername: "a", sockname: "b" });
    ta.peer = tb;
    tb.peer = ta;
    a.connectionMade(ta);
    b.connectionMade(tb);
    return [ta, tb];
  }

  setWriteBufferLimits({ high = null, low = null }: WriteBufferLimits = {}): void {
    this._high = high ?? (low === null ? 64 * 1024 : 4 * low);
    this._low = low ?? Math.floor(this._high / 4);
    this._maybePauseProtocol();
  }

  getWriteBufferLimits(): [number, number] {
    return [this._low, this._high];
  }

  private _maybePauseProtocol(): void {
    if (this._protocolPaused || this._buffered <= this._high) return;
    this._protocolPaused = true;
    this._protocol.pauseWriting();
  }

  private _maybeResumeProtocol(): void {
    if (!this._protocolPaused || this._buffered > this._low) return;
    this._protocolPaused = false;
    this._protocol.resumeWriting();
  }

  isReading(): boolean {
    return this._reading && !this._closing;
  }

  pauseReading(): void {
    if (!this._reading) return;
    this._reading = false;
    this.readingLog.push("pause");
  }

  resumeReading(): void {
    if (this._reading) return;
    this._reading = true;
    this.readingLog.push("resume");
    this.peer?._scheduleDelivery();
  }

  getWriteBufferSize(): number {
    return this._buffered;
  }

  write(data: Uint8Array): void {
    if (this._eofWritten) throw new Error("Cannot call write() after writeEof()");
    if (this._lost || data.length === 0) return;
    this._outgoing.push(Buffer.from(data));
    this._buffered += data.length;
    this.maxBuffered = Math.max(this.maxBuffered, this._buffered);
    this._maybePauseProtocol();
    this._scheduleDelivery();
  }

  writeEof(): void {
    if (this._eofWritten) return;
    this._eofWritten = true;
    this._scheduleDelivery();
  }

  canWriteEof(): boolean {
    return true;
  }

  isClosing(): boolean {
    return this._closing;
  }

  close(): void {
    if (this._closing) return;
    this._closing = true;
    this._eofWritten = true;
    this._scheduleDelivery();
  }

  abort(): void {
    this._outgoing = [];
    this._buffered = 0;
    this._closing = true;
    this._eofWritten = true;
    this._scheduleDelivery();
  }

  setProtocol(protocol: BaseProtocol): void {
    this._protocol = protocol as Protocol;
  }

  getProtocol(): BaseProtocol {
    return this._protocol;
  }

  private _scheduleDelivery(): void {
    if (this._delivering || this._lost) return;
    this._delivering = true;
    this._loop.callSoon(() => this._deliver());
  }

  /** One chunk to the peer per loop callback, while the peer reads. */
  private _deliver(): void {
    this._delivering = false;
    const peer = this.peer as MemoryTransport;
    if (this._lost) return;
    if (this._outgoing.length > 0) {
      if (!peer._reading || peer._lost) return;
      const data = this._takeChunk();
      this._maybeResumeProtocol();
      peer._protocol.dataReceived(data);
      this._scheduleDelivery();
      return;
    }
    if (this._eofWritten && !this._eofDelivered && !peer._lost) {
      this._eofDelivered = true;
      const keepOpen = peer._protocol.eofReceived();
      if (keepOpen !== true) peer._connectionLost(null);
    }
    if (this._closing) this._connectionLost(null);
  }

  private _takeChunk(): Buffer {
    const head = this._outgoing[0] as Buffer;
    if (head.length <= this._chunk) {
      this._outgoing.shift();
      this._buffered -= head.length;
      return head;
    }
    this._outgoing[0] = head.subarray(this._chunk);
    this._buffered -= this._chunk;
    return head.subarray(0, this._chunk);
  }

  _connectionLost(exc: Error | null): void {
    if (this._lost) return;
    this._lost = true;
    this._closing = true;
    this._protocol.connectionLost(exc);
  }

  override toString(): string {
    return `<MemoryTransport ${this._lost ? "closed" : "open"} bufsize=${this._buffered}>`;
  }
}
