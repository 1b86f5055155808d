/**
 * asyncio-ts: Python's asyncio for TypeScript on Node.js. This module
 * gathers the public names, the way `asyncio/__init__.py` does; each comes
 * from the module named as in CPython (`events`, `futures`, `tasks`, ...).
 */
export type { EventLoopOptions, LoopScheduler } from "./base_events.js";
export { BaseEventLoop } from "./base_events.js";
export type {
  AwaitedOf,
  FinishedFuture,
  GatherOptions,
  GatherResults,
  GatherSettledResults,
  ReturnWhen,
  WaitOptions,
} from "./combinators.js";
export {
  ALL_COMPLETED,
  AsCompletedIterator,
  asCompleted,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  gather,
  shield,
  wait,
  waitFor,
} from "./combinators.js";
export type {
  ConcurrentFutureState,
  ExecutorFunction,
  ExecutorResult,
  FunctionRef,
  ShutdownOptions,
} from "./concurrent_futures.js";
export { BrokenExecutor, BrokenProcessPool, BrokenThreadPool, ConcurrentFuture, Executor } from "./concurrent_futures.js";
export type { ContextVarOptions } from "./contextvars.js";
export { Context, ContextVar, copyContext, Token } from "./contextvars.js";
export type { CoroFunction } from "./coroutines.js";
export { Coro, coroutine, isCoroutine, isCoroutineFunction } from "./coroutines.js";
export type {
  AddrInfo,
  Callback,
  ConnectAcceptedSocketOptions,
  CreateConnectionOptions,
  CreateDatagramEndpointOptions,
  CreateServerOptions,
  CreateUnixConnectionOptions,
  CreateUnixServerOptions,
  ExceptionContext,
  ExceptionHandler,
  ExecArgs,
  ExecutorLike,
  FileLike,
  GetaddrinfoOptions,
  PipeLike,
  SendfileOptions,
  SocketLike,
  SSLOption,
  StartTlsOptions,
  StdioOption,
  SubprocessOptions,
  TaskFactory,
} from "./events.js";
export {
  AbstractEventLoop,
  AbstractEventLoopPolicy,
  AbstractServer,
  getEventLoop,
  getEventLoopPolicy,
  getRunningLoop,
  Handle,
  newEventLoop,
  setEventLoop,
  setEventLoopPolicy,
  TimerHandle,
} from "./events.js";
export type { ExceptionMatcher, OSErrorOptions } from "./exceptions.js";
export {
  BlockingIOError,
  BrokenBarrierError,
  BrokenPipeError,
  CancelledError,
  ConnectionAbortedError,
  ConnectionError,
  ConnectionRefusedError,
  ConnectionResetError,
  ExceptionGroup,
  FileExistsError,
  FileNotFoundError,
  gaierror,
  IncompleteReadError,
  InterruptedError,
  InvalidStateError,
  IsADirectoryError,
  KeyboardInterrupt,
  LimitOverrunError,
  LookupError,
  NotADirectoryError,
  NotImplementedError,
  OSError,
  PermissionError,
  ProcessLookupError,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  RuntimeError,
  SendfileNotAvailableError,
  TimeoutError,
  ValueError,
} from "./exceptions.js";
export type { Awaitable, Coroutine, DoneCallback, FutureOptions } from "./futures.js";
export { Future, isFuture, wrapFuture } from "./futures.js";
export { Barrier, BoundedSemaphore, Condition, Event, Held, Lock, Semaphore } from "./locks.js";
export type { Logger } from "./log.js";
export { logger, setLogger } from "./log.js";
export type { PoolExecutorOptions } from "./node/executors.js";
export { ProcessPoolExecutor, ThreadPoolExecutor } from "./node/executors.js";
export type { NodeEventLoopOptions } from "./node/node_events.js";
export { DefaultEventLoopPolicy, EventLoop } from "./node/node_events.js";
export type { TransportBackend } from "./node/selector_transport.js";
export { Server } from "./node/server.js";
export * as socket from "./node/socket.js";
export * as ssl from "./node/ssl.js";
export { TransportSocket } from "./node/trsock.js";
export type { Address } from "./protocols.js";
export { BaseProtocol, BufferedProtocol, DatagramProtocol, Protocol, SubprocessProtocol } from "./protocols.js";
export type { Comparator, PriorityQueueOptions } from "./queues.js";
export { LifoQueue, PriorityQueue, Queue } from "./queues.js";
export type { RunnerOptions } from "./runners.js";
export { Runner, run } from "./runners.js";
export type { BodyResult } from "./scope_body.js";
export type { StaggeredRaceOptions, StaggeredRaceResult } from "./staggered.js";
export { staggeredRace } from "./staggered.js";
export type {
  ClientConnectedCallback,
  OpenConnectionOptions,
  OpenUnixConnectionOptions,
  Separator,
  StartServerOptions,
  StartUnixServerOptions,
  StreamReaderOptions,
} from "./streams.js";
export {
  openConnection,
  openUnixConnection,
  StreamReader,
  StreamReaderProtocol,
  StreamWriter,
  startServer,
  startUnixServer,
} from "./streams.js";
export type { CreateExecArgs, CreateSubprocessOptions } from "./subprocess.js";
export { createSubprocessExec, createSubprocessShell, Process } from "./subprocess.js";
export { DEVNULL, PIPE, STDOUT } from "./subprocess_constants.js";
export type { TaskGroupBody, TaskGroupTaskOptions } from "./taskgroups.js";
export { TaskGroup, taskGroup } from "./taskgroups.js";
export type { AwaitableLike, CoroutineLike, TaskConstructorOptions, TaskOptions } from "./tasks.js";
export {
  allTasks,
  createEagerTaskFactory,
  createTask,
  currentTask,
  eagerTaskFactory,
  ensureFuture,
  sleep,
  Task,
} from "./tasks.js";
export { toThread } from "./threads.js";
export { runCoroutineThreadsafe } from "./threadsafe.js";
export type { TimeoutBody } from "./timeouts.js";
export { Timeout, TimeoutState, timeout, timeoutAt } from "./timeouts.js";
export type { WriteBufferLimits } from "./transports.js";
export {
  BaseTransport,
  DatagramTransport,
  ReadTransport,
  SubprocessTransport,
  Transport,
  WriteTransport,
} from "./transports.js";
