"""G1: time to the first result of the M1 training function in a new process, with an empty
compile cache (cold) and again with the cache the cold run left (warm).

The parent starts one child process per measurement: `python bench_cold.py --child PEER`.
The child imports the library (timed apart, as `import_s`), then builds the graph, compiles it
and runs one training step (`first_result_s`, the number compared with the target). Each cold
run gets a fresh cache directory; the warm run that follows reuses it:
- ours: SYMBOLIC_CACHE_DIR;
- PyTensor: PYTENSOR_FLAGS compiledir=... (its import also compiles its own C helper there);
- JAX: the persistent compilation cache (jax_compilation_cache_dir, every entry kept);
- PyTorch eager and NumPy have no compile step; they are listed for the floor.

The peers' modules are read from site-packages with the bytecode their installation wrote;
ours gets the same before its first child (`ensure_bytecode`): run from a source tree under
PYTHONDONTWRITEBYTECODE, every child would otherwise compile each of our modules it imports
from source, which no installed copy does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = ("numpy", "pytensor", "jax", "torch")
CACHE_ENV = {  # how each library is pointed at the cache directory of a run
    "ours": lambda d: {"SYMBOLIC_CACHE_DIR": d},
    "pytensor": lambda d: {
        "PYTENSOR_FLAGS": ",".join(
            f for f in (os.environ.get("PYTENSOR_FLAGS", ""), f"compiledir={d}") if f
        )
    },
    "jax": lambda d: {"BENCH_JAX_CACHE_DIR": d},
    "torch": lambda d: {},
    "numpy": lambda d: {},
}


def child(peer: str, device: str, threads: int) -> dict:
    """Runs in the new process: import, build, compile, one step; prints timings as JSON."""
    start = time.perf_counter()
    if peer == "ours":
        import symbolic  # noqa: F401
    elif peer == "jax":
        import jax

        jax.config.update("jax_compilation_cache_dir", os.environ["BENCH_JAX_CACHE_DIR"])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    else:
        __import__(peer)
    imported = time.perf_counter()

    import bench_mlp
    import harness

    # torch's thread calls in torch's process only: imported into another peer's process,
    # torch would load its own OpenMP runtime and MKL there
    if peer == "torch":
        harness.apply_library_threads(threads)
    params, x, labels = bench_mlp.mlp_inputs()  # data preparation is not timed
    builder = getattr(bench_mlp, f"mlp_{peer}")
    begin = time.perf_counter()
    step = builder(device, params, x, labels) if peer == "ours" else builder(params, x, labels)
    loss = float(step())
    done = time.perf_counter()
    return {"import_s": imported - start, "first_result_s": done - begin, "loss": loss}


def run_child(peer: str, device: str, threads: int, cache_dir: str) -> dict:
    env = dict(os.environ, **CACHE_ENV[peer](cache_dir))
    cmd = [sys.executable, os.path.join(HERE, "bench_cold.py"), "--child", peer]
    cmd += ["--device", device, "--threads", str(threads)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise RuntimeError(f"child exited {proc.returncode}: {lines[-1] if lines else ''}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = wall
    return result


def installed(peer: str) -> bool:
    import importlib.util

    try:
        return peer == "ours" or importlib.util.find_spec(peer) is not None
    except ValueError:  # a module set to None in sys.modules: treated as missing
        return False


def ensure_bytecode() -> None:
    """Write the bytecode of our packages' modules next to them (`__pycache__`, as an
    installation does); modules whose bytecode is current are left alone."""
    import compileall
    import importlib.util

    for package in ("symbolic", "runtime"):
        for location in importlib.util.find_spec(package).submodule_search_locations:
            compileall.compile_dir(location, quiet=1)


def measure(peer: str, device: str, threads: int, repeat: int) -> dict:
    """Median cold and warm first-result times over `repeat` fresh cache directories."""
    if peer == "ours":
        ensure_bytecode()
    runs = {"cold": [], "warm": []}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix=f"bench-g1-{peer}-") as cache_dir:
            runs["cold"].append(run_child(peer, device, threads, cache_dir))
            runs["warm"].append(run_child(peer, device, threads, cache_dir))
    out = {}
    for kind, rs in runs.items():
        out[kind] = {
            key: statistics.median(r[key] for r in rs)
            for key in ("first_result_s", "import_s", "process_s")
        }
        out[kind]["loss"] = rs[0]["loss"]
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="G1 child process (started by run.py)")
    parser.add_argument("--child", required=True, choices=("ours",) + PEERS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    print(json.dumps(child(args.child, args.device, args.threads)))


if __name__ == "__main__":
    main()
