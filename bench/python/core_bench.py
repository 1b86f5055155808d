#!/usr/bin/env python3
"""Reference micro-benchmarks of CPython's asyncio event loop (and uvloop).

This script produces the reference figures that asyncio-ts's ``npm run bench``
prints next to its own measurements.  Each workload here has a twin with the
same name on the TypeScript side, so the two sets of numbers can be compared
directly.

Usage::

    python3 bench/python/core_bench.py --loop asyncio|uvloop [--scale 1.0]
                                       [--only name,name]
    python3 bench/python/core_bench.py --list

Output is a single JSON object on stdout::

    {"loop": "asyncio", "python": "3.11.2",
     "results": {"call_soon_chain": {"n": 1000000, "ms": 1234.5}, ...}}

Rules every workload follows:

* it builds a fresh event loop (``asyncio.new_event_loop()`` or
  ``uvloop.new_event_loop()``) and closes it afterwards;
* only the workload itself is timed, with ``time.perf_counter()``; creating
  and closing the loop is not;
* every N is multiplied by ``--scale`` (rounded to the nearest integer, at
  least 1), so ``--scale 0.1`` gives a quick run.

``--loop uvloop`` exits with status 3 and prints nothing on stdout when uvloop
cannot be imported.

Standard library only (plus the optional ``uvloop`` package).
"""

import argparse
import asyncio
import gc
import json
import platform
import random
import sys
import time
import tracemalloc

# Exit status used when ``--loop uvloop`` is requested but uvloop is missing.
EXIT_NO_UVLOOP = 3


def scaled(base, scale):
    """Return ``base * scale`` as an integer, never less than 1."""
    return max(1, int(round(base * scale)))


def ms_since(start):
    """Milliseconds elapsed since ``start`` (a ``time.perf_counter()`` value)."""
    return round((time.perf_counter() - start) * 1000.0, 2)


# ---------------------------------------------------------------------------
# Workloads.  Each takes (new_loop, n) and returns the result entry (a dict).
# ``new_loop`` is a zero-argument factory returning a fresh event loop.
# ---------------------------------------------------------------------------


def bench_call_soon_chain(new_loop, n):
    """A callback that re-schedules itself with call_soon until it ran N times."""
    loop = new_loop()
    try:
        count = 0

        def step():
            nonlocal count
            count += 1
            if count < n:
                loop.call_soon(step)
            else:
                loop.stop()

        loop.call_soon(step)
        gc.collect()
        start = time.perf_counter()
        loop.run_forever()
        ms = ms_since(start)
        assert count == n, (count, n)
    finally:
        loop.close()
    return {"n": n, "ms": ms}


def bench_call_later_timers(new_loop, n):
    """N timers with random delays in [0, 1 ms); every second one is cancelled.

    The handles at even indices (the 1st, 3rd, 5th, ...) are cancelled, which
    leaves exactly floor(N / 2) live timers; the loop stops when the last of
    them has fired.
    """
    rng = random.Random(42)
    delays = [rng.random() * 0.001 for _ in range(n)]  # uniform in [0, 0.001)
    expected = n // 2  # number of timers that are not cancelled

    loop = new_loop()
    try:
        fired = 0

        def on_timer():
            nonlocal fired
            fired += 1
            if fired == expected:
                loop.stop()

        gc.collect()
        start = time.perf_counter()
        handles = [loop.call_later(delay, on_timer) for delay in delays]
        for handle in handles[0::2]:
            handle.cancel()
        if expected > 0:  # with N == 1 nothing is left to run
            loop.run_forever()
        ms = ms_since(start)
        assert fired == expected, (fired, expected)
    finally:
        loop.close()
    return {"n": n, "ms": ms}


def bench_tasks_sleep0_gather(new_loop, n):
    """N tasks that each await asyncio.sleep(0), gathered by one main task."""

    async def child():
        await asyncio.sleep(0)

    async def main():
        tasks = [asyncio.ensure_future(child()) for _ in range(n)]
        await asyncio.gather(*tasks)

    loop = new_loop()
    try:
        coro = main()
        gc.collect()
        start = time.perf_counter()
        loop.run_until_complete(coro)
        ms = ms_since(start)
    finally:
        loop.close()
    return {"n": n, "ms": ms}


def bench_task_switch(new_loop, n):
    """Two tasks pass a token back and forth through two asyncio.Queues.

    Task A puts the token on q1 and awaits q2.get(); task B awaits q1.get()
    and puts the token on q2.  Every hand-over of the token from one task to
    the other is one switch; the run stops after exactly N switches (N / 2
    round trips; with an odd N the final hand-over is A -> B).
    """
    switches = 0

    async def task_a(q1, q2):
        nonlocal switches
        token = object()
        # ``done`` is the number of switches completed before this round.
        for done in range(0, n, 2):
            await q1.put(token)  # hand-over A -> B
            if done + 1 >= n:
                break  # that was the last switch; B will not answer
            token = await q2.get()  # hand-over B -> A
            switches += 1

    async def task_b(q1, q2):
        nonlocal switches
        for done in range(0, n, 2):
            token = await q1.get()
            switches += 1
            if done + 1 >= n:
                break
            await q2.put(token)

    async def main():
        q1 = asyncio.Queue()
        q2 = asyncio.Queue()
        await asyncio.gather(task_a(q1, q2), task_b(q1, q2))

    loop = new_loop()
    try:
        coro = main()
        gc.collect()
        start = time.perf_counter()
        loop.run_until_complete(coro)
        ms = ms_since(start)
        assert switches == n, (switches, n)
    finally:
        loop.close()
    return {"n": n, "ms": ms}


def bench_memory_per_blocked_task(new_loop, n):
    """Traced Python memory per task blocked in ``await event.wait()``.

    tracemalloc only sees allocations made through Python's allocators, so
    with uvloop the loop's own C structures are invisible; the Python objects
    (tasks, coroutines, futures, frames) are still counted.
    """
    before = after = 0

    async def waiter(ev):
        await ev.wait()

    async def main():
        nonlocal before, after
        ev = asyncio.Event()
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        tasks = [asyncio.ensure_future(waiter(ev)) for _ in range(n)]
        # Two loop iterations: every task starts and blocks in ev.wait().
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        after = tracemalloc.get_traced_memory()[0]
        assert not any(t.done() for t in tasks)
        # Release them and let them finish.
        ev.set()
        await asyncio.gather(*tasks)

    loop = new_loop()
    try:
        tracemalloc.start()
        try:
            loop.run_until_complete(main())
        finally:
            tracemalloc.stop()
    finally:
        loop.close()
    return {
        "n": n,
        "bytes_per_task": round((after - before) / n, 1),
        "note": "tracemalloc",
    }


def bench_queue_producer_consumer(new_loop, n):
    """A producer puts N items on an asyncio.Queue(maxsize=100), a consumer
    gets them: the producer blocks whenever the queue is full."""
    total = 0

    async def producer(q):
        for i in range(n):
            await q.put(i)

    async def consumer(q):
        nonlocal total
        for _ in range(n):
            total += await q.get()

    async def main():
        q = asyncio.Queue(100)
        await asyncio.gather(producer(q), consumer(q))

    loop = new_loop()
    try:
        coro = main()
        gc.collect()
        start = time.perf_counter()
        loop.run_until_complete(coro)
        ms = ms_since(start)
        assert total == n * (n - 1) // 2, (total, n)
    finally:
        loop.close()
    return {"n": n, "ms": ms}


def lock_contention_shape(n):
    """1,000 tasks taking the lock N / 1,000 times each (fewer tasks when N < 1,000)."""
    tasks = min(1000, n)
    return tasks, n // tasks


def bench_lock_contention(new_loop, n):
    """1,000 tasks each take one asyncio.Lock N / 1,000 times (100 at scale
    1), holding it across one loop iteration, so that every acquisition is a
    hand-over through the lock's line of waiters."""
    tasks, rounds = lock_contention_shape(n)
    count = 0

    async def worker(lock):
        nonlocal count
        for _ in range(rounds):
            async with lock:
                count += 1
                await asyncio.sleep(0)

    async def main():
        lock = asyncio.Lock()
        await asyncio.gather(*(worker(lock) for _ in range(tasks)))

    loop = new_loop()
    try:
        coro = main()
        gc.collect()
        start = time.perf_counter()
        loop.run_until_complete(coro)
        ms = ms_since(start)
        assert count == tasks * rounds, (count, tasks, rounds)
    finally:
        loop.close()
    return {"n": tasks * rounds, "ms": ms}


# Workload name -> (function, base N).  Names are shared with the TypeScript
# side of ``npm run bench``; do not rename them.
WORKLOADS = {
    "call_soon_chain": (bench_call_soon_chain, 1_000_000),
    "call_later_timers": (bench_call_later_timers, 100_000),
    "tasks_sleep0_gather": (bench_tasks_sleep0_gather, 100_000),
    "task_switch": (bench_task_switch, 1_000_000),
    "memory_per_blocked_task": (bench_memory_per_blocked_task, 100_000),
    "queue_producer_consumer": (bench_queue_producer_consumer, 1_000_000),
    "lock_contention": (bench_lock_contention, 100_000),
}


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Reference asyncio micro-benchmarks for asyncio-ts's "
        "`npm run bench`. Prints one JSON object on stdout."
    )
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        help="event loop implementation to measure",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every N by this factor (default: 1.0)",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated workload names to run (default: all)",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="print the workload names as a JSON array and exit",
    )
    args = parser.parse_args(argv)

    if args.list:
        return args
    if args.loop is None:
        parser.error("--loop is required (asyncio or uvloop)")
    if not args.scale > 0:
        parser.error("--scale must be a positive number")
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in names if name not in WORKLOADS]
    if unknown:
        parser.error("unknown workload(s): %s (known: %s)"
                     % (", ".join(unknown), ", ".join(WORKLOADS)))
    args.names = names or list(WORKLOADS)
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)

    if args.list:
        print(json.dumps(list(WORKLOADS)))
        return 0

    if args.loop == "uvloop":
        try:
            import uvloop
        except ImportError as exc:
            print("core_bench.py: cannot import uvloop: %s" % exc,
                  file=sys.stderr)
            return EXIT_NO_UVLOOP
        new_loop = uvloop.new_event_loop
    else:
        new_loop = asyncio.new_event_loop

    results = {}
    for name in args.names:
        func, base = WORKLOADS[name]
        results[name] = func(new_loop, scaled(base, args.scale))

    print(json.dumps({
        "loop": args.loop,
        "python": platform.python_version(),
        "results": results,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
