"""The reproduction `f.dump(directory, inputs)` writes: each kernel's launch on those inputs.

The function's graph is run on the inputs by the NumPy reference, recording what every node
with a kernel reads and returns. Each kernel's launch is then planned as the cpu runtime plans
it (runtime/cpu_backend.py PLANNERS) and saved: the arrays it reads (`launches/*.npy`), its
sizes and strides (`launches.json`) and the reference's outputs. `reproduce.py`, a copy of
runtime/reproduce_script.py that needs only NumPy and a C compiler, builds module.so with the
runtime's commands, calls each kernel through ctypes and compares. Kernels of a loop's inner
graph are not rerun (their inputs exist only inside the loop).

CUDA: the inputs and reference outputs are saved and `reproduce.py` builds the cubin with nvcc
and checks that it holds every kernel; the launches are the cuda runtime's (runtime/cuda).
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np

from runtime.function import _host
from runtime.indexing_plan import IndexLaunch
from runtime.numpy_backend import NumpyProgram

SCRIPT = os.path.join(os.path.dirname(__file__), "reproduce_script.py")


def write_reproduction(f, directory: str, inputs, module: str, commands: list) -> list[str]:
    """Save the inputs (inputs/<i>.npy), the kernels' launches and the script; the paths."""
    arrays = f._check(tuple(inputs))  # the arguments as a call converts them, or its error
    leaves = [*arrays, *[_host(s._value) for s in f._shared]]
    seen = _reference_values(f, leaves)
    os.makedirs(os.path.join(directory, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(directory, "launches"), exist_ok=True)
    paths = []
    for i, a in enumerate(arrays):
        paths.append(os.path.join(directory, "inputs", f"{i}.npy"))
        np.save(paths[-1], a)
    launches = []
    for kernel in f.kernels:
        if id(kernel.node) not in seen:  # inside a loop's step
            continue
        args, results = seen[id(kernel.node)]
        symbol = f._sources.symbols[kernel.description]
        if f._sources.target == "c":
            launch = _c_launch(kernel, symbol, args, results, directory, paths)
        else:
            launch = {"kernel": kernel.name, "symbol": symbol, "kind": kernel.description.kind}
        if launch is not None:
            launches.append(launch)
    manifest = {
        "target": f._sources.target,
        "module": module,
        "commands": commands,
        "library": "module.so" if f._sources.target == "c" else "module.cubin",
        "launches": launches,
    }
    paths.append(os.path.join(directory, "launches.json"))
    with open(paths[-1], "w") as out:
        json.dump(manifest, out, indent=1)
    paths.append(os.path.join(directory, "reproduce.py"))
    shutil.copyfile(SCRIPT, paths[-1])
    return paths


def _reference_values(f, leaves: list) -> dict:
    """{id(node): (its input arrays, its output arrays)} of the kernels' nodes, from a run of
    the graph by the NumPy reference."""
    wanted = {id(k.node) for k in f.kernels}
    seen: dict = {}

    def make_step(node):
        if id(node) not in wanted:
            return node.op.perform

        def step(*args):
            result = node.op.perform(*args)
            outs = result if len(node.outputs) > 1 else [result]
            seen[id(node)] = (list(args), [np.asarray(o) for o in outs])
            return result

        return step

    NumpyProgram(f.fgraph, [*f.inputs, *f._shared], make_step).call(*leaves)
    return seen


def _c_launch(kernel, symbol: str, args, results, directory: str, paths: list) -> dict | None:
    """The launch of a C kernel as the cpu runtime plans it, its arrays saved; None where the
    runtime would run the NumPy reference instead (no plan fits)."""
    from runtime.cpu_backend import PLANNERS

    arrays = [np.ascontiguousarray(a) for a in args]
    plan = PLANNERS[kernel.description.kind](None, kernel.node, arrays)
    if plan is None:
        return None
    if isinstance(plan, IndexLaunch):  # data = {arguments…, out, status}
        read = [a if isinstance(a, np.ndarray) else arrays[a] for a in plan.args]
        outputs, status = [(plan.out_shape, plan.out_dtype)], True
    else:  # data = {inputs…, outputs…}, an input through its view where the plan has one
        views = plan.views or [None] * len(arrays)
        read = [a if v is None else _viewed(v, a) for v, a in zip(views, arrays)]
        outputs, status = list(zip(plan.out_shapes, plan.out_dtypes)), False
    files = []
    for j, a in enumerate(read):
        files.append(f"launches/{kernel.name}.in{j}.npy")
        np.save(os.path.join(directory, files[-1]), a)
        paths.append(os.path.join(directory, files[-1]))
    expected = []
    for j, value in enumerate(results):
        expected.append(f"launches/{kernel.name}.out{j}.npy")
        np.save(os.path.join(directory, expected[-1]), value)
        paths.append(os.path.join(directory, expected[-1]))
    return {
        "kernel": kernel.name,
        "symbol": symbol,
        "kind": kernel.description.kind,
        "sizes": list(plan.sizes),
        "strides": list(plan.strides),
        "inputs": files,
        "outputs": [{"shape": list(s), "dtype": np.dtype(d).str} for s, d in outputs],
        "expected": expected,
        "status": status,
    }


def _viewed(view, a: np.ndarray) -> np.ndarray:
    """The array a view gives the kernel, as the kernel reads it from a saved copy: the
    original where the view only broadcasts it (same first element, strides in the plan),
    else the view's own contiguous copy."""
    seen = view(a)
    if seen.ctypes.data == a.ctypes.data:
        return a
    return np.ascontiguousarray(seen)
