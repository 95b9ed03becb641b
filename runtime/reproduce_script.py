"""Rerun the dumped kernels on the saved inputs and compare with the NumPy reference's outputs.

    python reproduce.py

Written by `f.dump(directory, inputs)` of the symbolic project next to the source it dumped;
needs only NumPy and the compiler named in launches.json. C: builds module.so with the
commands the runtime used (unless it is there), calls each kernel with the launch the runtime
planned (sizes, strides and the arrays it read, in launches/) and compares its outputs with the
reference's. CUDA: builds module.cubin with nvcc and checks that it defines every kernel.
Exits with status 1 when a kernel disagrees.
"""

import ctypes
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# (rtol, atol) per float dtype: the kernels and NumPy may round libm functions differently
TOLERANCE = {"f2": (1e-2, 1e-3), "f4": (1e-4, 1e-6), "f8": (1e-10, 1e-12)}


def build(manifest: dict) -> str:
    """The library (or cubin) built by the recorded commands, unless already there."""
    library = os.path.join(HERE, manifest["library"])
    if not os.path.exists(library):
        for stage in manifest["commands"]:
            for argv in stage:
                print("+", " ".join(argv))
                subprocess.run(argv, cwd=HERE, check=True)
    return library


def agree(got: np.ndarray, want: np.ndarray) -> bool:
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    rtol, atol = TOLERANCE.get(got.dtype.str[1:], (0, 0))
    if got.dtype.kind in "fc":
        return bool(np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True))
    return bool(np.array_equal(got, want))


def run_c(library: str, launches: list) -> int:
    lib = ctypes.CDLL(library)
    failures = 0
    for launch in launches:
        fn = getattr(lib, launch["symbol"])
        fn.restype, fn.argtypes = None, [ctypes.c_void_p] * 3
        arrays = [np.load(os.path.join(HERE, name)) for name in launch["inputs"]]
        outs = [np.empty(o["shape"], np.dtype(o["dtype"])) for o in launch["outputs"]]
        status = ctypes.c_int64(0)
        pointers = [a.ctypes.data for a in arrays] + [o.ctypes.data for o in outs]
        if launch["status"]:  # a gather or scatter reports an index out of range here
            pointers.append(ctypes.addressof(status))
        sizes = (ctypes.c_int64 * len(launch["sizes"]))(*launch["sizes"])
        strides = (ctypes.c_int64 * len(launch["strides"]))(*launch["strides"])
        fn(sizes, strides, (ctypes.c_void_p * len(pointers))(*pointers))
        wants = [np.load(os.path.join(HERE, name)) for name in launch["expected"]]
        ok = status.value == 0 and all(agree(g, w) for g, w in zip(outs, wants))
        failures += not ok
        worst = max((_error(g, w) for g, w in zip(outs, wants)), default=0.0)
        verdict = "agrees" if ok else "DIFFERS" if status.value == 0 else "reported a bad index"
        print(f"{launch['kernel']:<32} {verdict} (largest difference {worst:.3g})")
    return failures


def _error(got: np.ndarray, want: np.ndarray) -> float:
    if got.shape != want.shape or got.size == 0 or got.dtype.kind not in "fiub":
        return 0.0
    finite = np.isfinite(want) & np.isfinite(got)
    return float(np.max(np.abs(got[finite].astype(float) - want[finite]), initial=0.0))


def check_cubin(cubin: str, launches: list) -> int:
    """Load the cubin with the CUDA driver where there is one; else only the build is checked."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        print(f"built {os.path.basename(cubin)}; no CUDA driver here to load it")
        return 0
    context, module = ctypes.c_void_p(), ctypes.c_void_p()
    assert cuda.cuInit(0) == 0 and cuda.cuDevicePrimaryCtxRetain(ctypes.byref(context), 0) == 0
    cuda.cuCtxSetCurrent(context)
    assert cuda.cuModuleLoad(ctypes.byref(module), cubin.encode()) == 0, "cuModuleLoad failed"
    failures = 0
    for launch in launches:
        fn = ctypes.c_void_p()
        found = cuda.cuModuleGetFunction(ctypes.byref(fn), module, launch["symbol"].encode()) == 0
        failures += not found
        print(f"{launch['kernel']:<32} {'loads' if found else 'MISSING'}")
    return failures


def main() -> int:
    with open(os.path.join(HERE, "launches.json")) as f:
        manifest = json.load(f)
    library = build(manifest)
    if manifest["target"] == "c":
        failures = run_c(library, manifest["launches"])
    else:
        failures = check_cubin(library, manifest["launches"])
    print("all kernels agree" if not failures else f"{failures} kernel(s) disagree")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
