"""Running compiled graphs.

Shared by every backend (no backend imports another):
- schedule.py: the nodes in order over value slots, and where each value dies;
- launch_plan.py (with layout.py): a kernel's iteration space per layout of its arguments;
- kernel.py: the kernel records users see (`f.kernels`);
- numpy_backend.py: the schedule run in Python, with each node's NumPy reference (the `numpy`
  device, and the schedule runner of the others, each with its own steps);
- debug_modes.py with nan_guard.py and check_mode.py: the debugging modes' checks;
- cache.py: the compile cache on disk; errors.py, profile.py.

Backends:
- cpu: cpu_backend.py (C kernels loaded with ctypes, their launches), build.py and
  toolchain.py (the C compiler), native.py with runner*.c and runner_steps.py (the schedule in
  one C call), indexing_plan.py (gathers, scatters), loops.py (Scan), memory.py;
- cuda/: CUDA kernels through PyCUDA and cuBLAS.

Then the Function users hold: function.py, serialize.py (pickling).
"""
