"""What a process keeps: resident memory (RSS, from /proc/self/statm) around two workloads.

- calls: a tiny SGD step (`w <- w - 0.01 * grad(sum(tanh(w * x)))`, 4 float32 elements, with
  its update) called `--calls` times after 2,000 warm-up calls;
- functions: `--functions` distinct functions compiled (a distinct constant each, so a C
  library each), each called once, all held, then dropped and collected; then a second round
  of as many new ones, which should fit in what the first round freed; then the first
  round's again, each dropped before the next is compiled; then glibc's
  `malloc_trim(0)` returns the free heap pages that runtime/memory.py keeps mapped on purpose,
  so the last figure is what the process really holds.

Each workload runs in a fresh process, so neither sees the other's memory. Linux only (reads
/proc). Compiles go through the usual cache: a first run on an empty cache runs the compiler
for every function (about 0.1 s each), a second one loads them. Prints one JSON object.

    python benchmarks/bench_memory.py --calls 100000 --functions 1000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap

from harness import configure_threads, machine

MEASURE = textwrap.dedent(
    """
    import ctypes, gc, json, os, time, weakref
    import numpy as np
    import symbolic as S
    from runtime import cache

    def rss_mb():
        pages = int(open("/proc/self/statm").read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 2)

    def libraries():  # mappings of the cache's libraries (a few segments per library)
        root = str(cache.cache_dir())
        return sum(1 for line in open("/proc/self/maps") if root in line and ".so" in line)
    """
)

CALLS = MEASURE + textwrap.dedent(
    """
    x = S.vector("x")
    w = S.shared(np.zeros(4, np.float32), name="w")
    cost = S.sum(S.tanh(w * x))
    step = S.compile([x], cost, updates=[(w, w - 0.01 * S.grad(cost, w))], device="cpu")
    v = np.ones(4, np.float32)
    start = rss_mb()
    for _ in range(2000):
        step(v)
    warm = rss_mb()
    began = time.perf_counter()
    for _ in range({n}):
        step(v)
    seconds = time.perf_counter() - began
    print(json.dumps({{"calls": {n}, "rss_mb_compiled": start, "rss_mb_after_warmup": warm,
                      "rss_mb_after_calls": rss_mb(), "growth_mb": round(rss_mb() - warm, 2),
                      "us_per_call": round(seconds / {n} * 1e6, 2)}}))
    """
)

FUNCTIONS = MEASURE + textwrap.dedent(
    """
    x = S.vector("x")
    v = np.ones(8, np.float32)

    def compile_and_call(i):
        f = S.compile([x], S.tanh(x * float(i) + 0.5) * S.exp(x), device="cpu")
        f(v)
        return f

    def round_of(first):  # compile n functions, hold them, drop them: RSS held and after
        began = time.perf_counter()
        functions = [compile_and_call(i) for i in range(first, first + {n})]
        seconds = time.perf_counter() - began
        held, mappings = rss_mb(), libraries() - start_libraries
        refs = [weakref.ref(f) for f in functions]
        del functions
        gc.collect()
        alive = sum(r() is not None for r in refs)
        return held, mappings, alive, seconds

    compile_and_call(-1)
    gc.collect()
    start, start_libraries = rss_mb(), libraries()
    held, held_libraries, alive, seconds = round_of(0)
    dropped, dropped_libraries = rss_mb(), libraries() - start_libraries
    held_again = round_of({n})[0]
    again = rss_mb()
    for i in range({n}):  # the first round's functions again, one at a time: each dropped
        compile_and_call(i)  # before the next, so the heap is not fragmented by holding all
    gc.collect()
    one_at_a_time = rss_mb()
    ctypes.CDLL(None).malloc_trim(0)  # free heap pages M_TOP_PAD keeps (runtime/memory.py)
    print(json.dumps({{"functions": {n}, "rss_mb_start": start, "rss_mb_held": held,
                      "rss_mb_dropped": dropped, "rss_mb_held_second_round": held_again,
                      "rss_mb_dropped_second_round": again,
                      "rss_mb_after_one_at_a_time": one_at_a_time, "rss_mb_trimmed": rss_mb(),
                      "alive_after_drop": alive,
                      "library_mappings_held": held_libraries,
                      "library_mappings_dropped": dropped_libraries,
                      "ms_per_function": round(seconds / {n} * 1e3, 2)}}))
    """
)


def run_child(script: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=3600
    )
    if done.returncode != 0:
        raise RuntimeError(f"the measuring process failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--functions", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    report = {"machine": machine(), "threads": configure_threads(args.threads)}
    report["calls"] = run_child(CALLS.format(n=args.calls))
    report["functions"] = run_child(FUNCTIONS.format(n=args.functions))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
