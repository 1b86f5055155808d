/**
 * The public surface, checked against API.md: every name of the sections
 * implemented so far is exported with the right kind, and nothing else is
 * (no internal helper leaks out of the package root).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import * as testing from "asyncio-ts/testing";

/** API.md names by section, for the sections implemented so far. */
const API: Record<string, string[]> = {
  "3. events, base_events": [
    "getRunningLoop",
    "getEventLoop",
    "setEventLoop",
    "newEventLoop",
    "getEventLoopPolicy",
    "setEventLoopPolicy",
    "AbstractEventLoopPolicy",
    "DefaultEventLoopPolicy",
    "AbstractEventLoop",
    "BaseEventLoop",
    "EventLoop",
    "Handle",
    "TimerHandle",
    "Server",
  ],
  "2, 4. coroutines, futures, tasks": [
    "coroutine",
    "Coro",
    "isCoroutine",
    "isCoroutineFunction",
    "isFuture",
    "Future",
    "Task",
    "createTask",
    "currentTask",
    "allTasks",
    "ensureFuture",
    "sleep",
    "gather",
    "shield",
    "wait",
    "waitFor",
    "asCompleted",
    "eagerTaskFactory",
    "createEagerTaskFactory",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "ALL_COMPLETED",
  ],
  "5. runners": ["run", "Runner"],
  "9. transports, protocols": [
    "BaseProtocol",
    "Protocol",
    "BufferedProtocol",
    "DatagramProtocol",
    "SubprocessProtocol",
    "BaseTransport",
    "ReadTransport",
    "WriteTransport",
    "Transport",
    "DatagramTransport",
    "SubprocessTransport",
    "ssl",
  ],
  "9. streams": [
    "openConnection",
    "startServer",
    "openUnixConnection",
    "startUnixServer",
    "StreamReader",
    "StreamWriter",
    "StreamReaderProtocol",
  ],
  "9. subprocesses": ["createSubprocessExec", "createSubprocessShell", "Process"],
  "9. subprocess constants": ["PIPE", "STDOUT", "DEVNULL"],
  "6. taskgroups, timeouts": ["taskGroup", "TaskGroup", "timeout", "timeoutAt", "Timeout"],
  "7. locks": ["Lock", "Event", "Condition", "Semaphore", "BoundedSemaphore", "Barrier"],
  "8. queues": ["Queue", "PriorityQueue", "LifoQueue"],
  "11. threads, processes, executors": [
    "ThreadPoolExecutor",
    "ProcessPoolExecutor",
    "toThread",
    "wrapFuture",
    "runCoroutineThreadsafe",
  ],
  "10. socket": ["socket"],
  "12. contextvars": ["ContextVar", "Context", "copyContext", "Token"],
  "13. exceptions": [
    "CancelledError",
    "TimeoutError",
    "InvalidStateError",
    "SendfileNotAvailableError",
    "IncompleteReadError",
    "LimitOverrunError",
    "QueueEmpty",
    "QueueFull",
    "QueueShutDown",
    "BrokenBarrierError",
    "ExceptionGroup",
    "RuntimeError",
    "ValueError",
    "BlockingIOError",
    "OSError",
    "ConnectionError",
    "ConnectionResetError",
    "ConnectionRefusedError",
    "BrokenPipeError",
    "ConnectionAbortedError",
  ],
  "14. interop": ["logger", "setLogger"],
};

/** Names added beyond API.md, each on purpose. */
const ADDITIONS = [
  "LookupError", // what ContextVar.get raises without a value, as in Python
  "Held", // what `hold()` of a lock resolves to: the Disposable of `using`
  "TimeoutState", // Timeout's named states, as CPython's timeouts._State
  "AsCompletedIterator", // what asCompleted() returns: Iterable and AsyncIterable at once
  "AbstractServer", // the interface of Server, as AbstractEventLoop is the loop's (Python's events.AbstractServer)
  "KeyboardInterrupt", // what run() raises after Ctrl-C cancelled the main task, as in Python
  "NotImplementedError", // what the I/O methods of a loop without an I/O backend raise, as in Python
  // The OSError subclasses Python raises, mapped from error codes in one place (exceptions.osErrorFrom):
  "FileNotFoundError",
  "FileExistsError",
  "PermissionError",
  "ProcessLookupError",
  "IsADirectoryError",
  "NotADirectoryError",
  "InterruptedError",
  "gaierror", // Python's socket.gaierror: name resolution failed
  // Python's concurrent.futures, which the executors of section 11 are built on:
  "ConcurrentFuture", // concurrent.futures.Future: what submit() and runCoroutineThreadsafe() return
  "Executor", // concurrent.futures.Executor: the base of both pools (submit, map, shutdown)
  "BrokenExecutor", // a worker died while running the job
  "BrokenThreadPool",
  "BrokenProcessPool",
  "TransportSocket", // what server.sockets and getExtraInfo("socket") hold, as Python's asyncio.trsock.TransportSocket
  "staggeredRace", // Python's asyncio.staggered.staggered_race (Happy Eyeballs), importable in Python too
];

test("every API.md name of the implemented sections is exported", () => {
  for (const [section, names] of Object.entries(API)) {
    for (const name of names) assert.ok(name in asyncio, `${name} (API.md section ${section}) is not exported`);
  }
});

test("nothing but API.md names and the documented additions is exported", () => {
  const expected = new Set([...Object.values(API).flat(), ...ADDITIONS]);
  const extra = Object.keys(asyncio).filter((name) => !expected.has(name));
  assert.deepEqual(extra, []);
});

test("classes are classes, functions are functions, constants are strings", () => {
  for (const name of ["Future", "Task", "Handle", "TimerHandle", "EventLoop", "Lock", "Queue", "ContextVar", "CancelledError"]) {
    const value = (asyncio as Record<string, unknown>)[name];
    assert.equal(typeof value, "function", name);
    assert.ok(/^class /.test(Function.prototype.toString.call(value)), `${name} is a class`);
  }
  for (const name of ["run", "sleep", "gather", "createTask", "getRunningLoop"]) {
    assert.equal(typeof (asyncio as Record<string, unknown>)[name], "function", name);
  }
  assert.equal(typeof asyncio.FIRST_COMPLETED, "string");
});

test("the socket namespace holds Python's socket module names (API.md section 10)", () => {
  const names = ["socket", "socketpair", "fromFd", "Socket", "AF_INET", "AF_INET6", "AF_UNIX", "SOCK_STREAM", "SOCK_DGRAM"];
  for (const name of [...names, "SOL_SOCKET", "SO_REUSEADDR", "SHUT_RD", "SHUT_WR", "SHUT_RDWR"]) {
    assert.ok(name in asyncio.socket, `socket.${name} is exported`);
  }
  const methods = ["fileno", "setblocking", "bind", "listen", "accept", "connect", "recv", "recvInto", "recvfrom", "send"];
  for (const name of [...methods, "sendall", "sendto", "shutdown", "close", "getsockname", "getpeername", "setsockopt"]) {
    assert.equal(typeof (asyncio.socket.Socket.prototype as unknown as Record<string, unknown>)[name], "function", name);
  }
  assert.equal(typeof asyncio.socket.Socket.prototype.getsockopt, "function");
  assert.equal(typeof asyncio.socket.Socket.prototype.detach, "function");
});

test("asyncio-ts/testing exports VirtualTimeLoop and runVirtual", () => {
  assert.deepEqual(Object.keys(testing).sort(), ["VirtualTimeLoop", "runVirtual"]);
  assert.ok(new testing.VirtualTimeLoop() instanceof asyncio.EventLoop);
});
