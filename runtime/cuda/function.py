"""A function compiled for the cuda device: device inputs, device-resident state, host outputs.

Inputs are NumPy arrays (copied to the device where a device node reads them) or any object
with `__cuda_array_interface__` (read in place). Shared variables that a cuda function updates
hold device arrays from then on, so a training step makes no round trip through the host;
`get_value()` copies one back. Outputs come back as NumPy arrays, with one wait for the GPU per
call, or stay on the device as `DeviceArray`s with `f.device_outputs = True`.
"""

from __future__ import annotations

import numpy as np

from runtime.cuda.array import DeviceArray
from runtime.cuda.program import CudaContext, build_program, on_host
from runtime.function import Function, check_shape, convert_input, input_label
from runtime.kernel_module import KernelModule
from runtime.schedule import fresh as fresh_on_host
from symbolic.codegen.kernel import describe

# The kernel kinds the CUDA renderer prints; gathers and scatters run on the host for now.
CUDA_KINDS = ("elementwise", "reduction", "rows")


def build_cuda_program(
    fgraph, leaves: list, fast_math: bool = False, profile: bool = False, debug=None
):
    """(the program, the KernelModule of its kernels): kernels are described now and built
    at the first call, so a machine without a GPU can compile and read them. `debug`: the
    debugging modes (runtime/debug_modes.py), carried out on the GPU (runtime/cuda/debug_modes.py)."""
    described = []
    for i, node in enumerate(fgraph.nodes):
        kernel = describe(node)
        if kernel is not None and kernel.kind in CUDA_KINDS:
            described.append((f"k{i}_{node.op.name}", node, kernel))
    sources = KernelModule("cuda", described, fgraph, fast_math)
    context = CudaContext(sources, sync_each=profile)
    if debug is not None:
        from runtime.cuda.debug_modes import on_cuda

        debug = on_cuda(debug, context, fast_math)
    program = build_program(fgraph, leaves, described, context, debug)
    program.context = context
    return (program if debug is None else debug.program(program)), sources


def device_input(var, position: int, array: DeviceArray) -> DeviceArray:
    """A device argument checked against its input's type, or a TypeError/ValueError naming it
    (no conversion on the device: its dtype must be the input's)."""
    label = input_label(var, position)
    if array.dtype != np.dtype(var.dtype):
        raise TypeError(
            f"{label} expects {var.dtype}, got a device array of {array.dtype}; convert it "
            f"on the device (e.g. .astype({var.dtype!r})) first"
        )
    return check_shape(var, label, array)


class CudaFunction(Function):
    """A Function on the cuda device (see the module's docstring).

    `device_outputs` (default False, settable): return outputs as `DeviceArray`s (with
    `__cuda_array_interface__`, so CuPy and PyTorch read them without a copy) instead of
    NumPy arrays; the call then does not wait for the GPU.
    """

    def __init__(self, *args, fast_math: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fast_math = fast_math
        self.device_outputs = False

    def _arguments(self, device, args) -> tuple:
        """The arguments checked (unless `trust_input`): NumPy arrays as the cpu device checks
        them, device arrays (ours, or any `__cuda_array_interface__`) by dtype and shape."""
        if all(a.__class__ is np.ndarray for a in args):
            return args if self.trust_input else self._check(args)
        if len(args) != len(self.inputs):
            return self._check(args)  # raises the count error
        checked = []
        for i, (var, a) in enumerate(zip(self.inputs, args)):
            if a.__class__ is not DeviceArray and hasattr(a, "__cuda_array_interface__"):
                a = device.from_interface(a)
            if not self.trust_input:
                a = (
                    device_input(var, i, a)
                    if a.__class__ is DeviceArray
                    else convert_input(var, i, a, self._downcast[i])
                )
            checked.append(a)
        return tuple(checked)

    def __call__(self, *args, **kwargs):
        if kwargs or len(args) != len(self.inputs):  # keywords, defaults, or a count error
            args = self._binder.bind(args, kwargs)
        program = self._program
        device = program.context.load()  # CudaUnavailableError without a GPU
        args = self._arguments(device, args)
        leaves = (*args, *[s._value for s in self._shared])
        program.context.begin_call()
        if self.profile is None:
            results = program.call(*leaves)
            program.context.settle()  # the all-reduces this call started (none: nothing to do)
        else:
            self.profile.begin_call()
            results = program.run(leaves, self.profile)
            program.context.settle()
            self.profile.end_call(self.fgraph.nodes)
        n = self._n_outputs
        outputs = fresh(device, results[:n], leaves)
        new_state = fresh(device, results[n:], (*leaves, *outputs))
        if not self.device_outputs:
            outputs = on_host(device, outputs)
        for target, value in zip(self._targets, new_state):  # nothing above has failed
            target._value = value
        return outputs[0] if self._single else outputs


def fresh(device, values, taken) -> list:
    """The values, copied where they are views or alias `taken` or each other (device arrays
    on the device, host arrays as runtime.schedule.fresh does)."""
    seen = {id(a.owner) for a in taken if isinstance(a, DeviceArray)}
    hosts = [a for a in taken if not isinstance(a, DeviceArray)]
    out = []
    for a in values:
        if isinstance(a, DeviceArray):
            if not a.fresh or id(a.owner) in seen:
                a = device.copy(a)
            seen.add(id(a.owner))
        else:
            (a,) = fresh_on_host([a], hosts)
            hosts.append(a)
        out.append(a)
    return out
