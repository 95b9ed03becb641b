"""Running compiled graphs.

Shared by every backend (no backend imports another):
- schedule.py: the nodes in order over value slots, and where each value dies;
- launch_plan.py (with layout.py): a kernel's iteration space per layout of its arguments;
- kernel_module.py: the kernel records users see (`f.kernels`) and the source they build from
  (`f.source`), for C and CUDA;
- numpy_backend.py: the schedule run in Python, with each node's NumPy reference (the `numpy`
  device, and the schedule runner of the others, each with its own steps);
- debug_modes.py with nan_guard.py and check_mode.py: the debugging modes' checks;
- collectives.py: where a function's collectives start and wait in the schedule (buckets);
- dump.py, reproduce.py: `f.dump` (files that build, a reproduction script);
- cache.py: the compile cache on disk; errors.py, profile.py, trace.py.

Backends:
- cpu: cpu_backend.py (C kernels loaded with ctypes, their launches), build.py and
  toolchain.py (the C compiler), native.py with runner*.c and runner_steps.py (the schedule in
  one C call), blas.py (the CBLAS products call) with gemm_plans.py (each product's form,
  measured and cached per machine), indexing_plan.py (gathers, scatters), loops.py (Scan),
  memory.py;
- cuda/: CUDA kernels through PyCUDA and cuBLAS;
- distributed/: the collectives' transport: MPI for host buffers, NCCL for device buffers.

Then the Function users hold: function.py, serialize.py (pickling).
"""
