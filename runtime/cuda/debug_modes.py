"""nan_guard and check on the cuda device (see runtime/debug_modes.py).

nan_guard checks each float value on the GPU where it lies: a small generated reduction,
any(isnan(x) | isinf(x)) over the whole array, writes the value's flag into one device buffer
of flags (a slot per checked value, runtime/nan_guard.NanGuard.slots), queued on the stream
behind the kernel that made the value, so the GPU never waits for the check. The call reads
the buffer once, at its end. Where a flag is set (or a value on the host is not finite), the
call is run again with each value copied to the host and checked as it is made: that run stops
at the first bad value in schedule order, with its node's inputs at hand for the message.
Running again is safe: the failed call applied no update, and a call's values depend only on
its arguments and shared values.

check copies each node's inputs and outputs to the host to run its NumPy reference (one wait
per node: a debugging mode).
"""

from __future__ import annotations

import functools

import numpy as np

from runtime.check_mode import StepChecker
from runtime.cuda.array import DeviceArray
from runtime.cuda.launch import plan_reduction
from runtime.cuda.program import on_host
from runtime.debug_modes import DebugModes
from runtime.nan_guard import GuardedProgram, NanGuard, NonFiniteError, all_finite
from symbolic.codegen.kernel import ReductionKernel
from symbolic.elemwise import isinf, isnan
from symbolic.fused import FusedElemwise, Ref, Step
from symbolic.graph import tensor


@functools.cache
def nonfinite_kernel(dtype: str) -> ReductionKernel:
    """any(isnan(x) | isinf(x)) over all of x: a bool, true where x holds NaN or ±Inf."""
    x = tensor("x", dtype, ())
    nan, inf = isnan(x), isinf(x)
    either = nan | inf
    steps = (
        Step(nan.owner.op, (Ref("x", 0),)),
        Step(inf.owner.op, (Ref("x", 0),)),
        Step(either.owner.op, (Ref("s", 0), Ref("s", 1))),
    )
    program = FusedElemwise((dtype,), (), steps, (2,))
    return ReductionKernel("any", program, (dtype,), (False,), "bool")


class DeviceFlags:
    """The flags of one function's checked values, in one device buffer: `reset()` before a
    call, `flag(slot, array)` queues the check of a device array, `read()` gives the host's
    copy (the one wait)."""

    def __init__(self, context, slots: list):
        self.context, self.slots = context, slots
        self.kernels: dict = {}
        self.plans: dict = {}
        self.buffer = None

    def reset(self) -> None:
        self.buffer = self.context.device.zeros((len(self.slots),), np.bool_)

    def flag(self, slot: int, array: DeviceArray) -> None:
        if array.size == 0:
            return
        key = (array.dtype, array.shape, array.strides)
        launch = self.plans.get(key)
        if launch is None:
            axes = tuple(range(array.ndim))
            launch = self.plans[key] = plan_reduction(
                self.kernel(array.dtype.name), axes, False, np.bool_, [array]
            )
        launch([array], outs=[self.buffer[slot]])

    def kernel(self, dtype: str):
        found = self.kernels.get(dtype)
        if found is None:
            device, name = self.context.device, f"nonfinite_{dtype}"
            module = device.module([(name, nonfinite_kernel(dtype))])
            found = self.kernels[dtype] = device.kernel(module, name, nonfinite_kernel(dtype))
        return found

    def read(self) -> np.ndarray:
        return self.context.device.to_host([self.buffer])[0]


class DeviceNanGuard(NanGuard):
    """NanGuard whose checks of device arrays are flags read at the end of the call; with
    `eager` set (the run again after a flag), every value is checked on the host at once."""

    def __init__(self, names, leaves, context):
        super().__init__(names, leaves)
        self.context, self.eager = context, False
        self.flags = DeviceFlags(context, self.slots)

    def finite(self, value, slot: int) -> bool:
        if value.__class__ is DeviceArray:
            if not self.eager:
                self.flags.flag(slot, value)
                return True
            value = self.host(value)
        return all_finite(value)

    def host(self, value):
        return on_host(self.context.device, [value])[0]

    def leaf_error(self, position: int, value) -> NonFiniteError:
        return super().leaf_error(position, self.host(value))

    def output_error(self, node, i, value, args, kernel=None) -> NonFiniteError:
        host_args = on_host(self.context.device, args)
        return super().output_error(node, i, self.host(value), host_args, kernel)

    def flagged_error(self, slot: int) -> NonFiniteError:
        """The error of a flag the run again did not reproduce (a value that differs between
        two runs on the same arguments)."""
        node, index = self.slots[slot]
        again = "but not when the call ran again on the same values"
        if node is None:
            return NonFiniteError(
                f"nan_guard: {self.leaf_label(index)} held NaN or ±Inf on the GPU, {again}"
            )
        error = NonFiniteError(
            f"nan_guard: {node.op.name} made NaN or ±Inf on the GPU, {again}\n"
            f"{self.names.describe(node, index)}"
        )
        error.node = node
        return error


class FlaggedProgram(GuardedProgram):
    """A cuda program whose calls reset the flags, run, and read them once; a set flag (or
    a value on the host that is not finite) runs the call again, eagerly, for the message."""

    def call(self, *leaf_values):
        return self._checked(lambda: super(FlaggedProgram, self).call(*leaf_values))

    def run(self, leaf_values, profile=None):
        return self._checked(lambda: super(FlaggedProgram, self).run(leaf_values, profile))

    def _checked(self, run):
        guard = self.guard
        guard.flags.reset()
        found = None
        try:
            results = run()
        except NonFiniteError as error:  # found on the host: an earlier flag may be the first
            found = error
        flags = guard.flags.read()
        if found is None and not flags.any():
            return results
        guard.eager = True
        try:
            run()  # raises at the first value that is not finite
        finally:
            guard.eager = False
        raise found or guard.flagged_error(int(np.argmax(flags)))


def on_cuda(debug: DebugModes, context, fast_math: bool) -> DebugModes:
    """The modes of a cuda function: values checked on the GPU, compared on the host."""
    guard = debug.guard
    if guard is not None:
        guard = DeviceNanGuard(guard.names, guard.leaves if debug.check_leaves else [], context)
    checker = None
    if debug.checker is not None:
        checker = StepChecker(
            debug.checker.names, lambda values: on_host(context.device, values), fast_math
        )
    return CudaDebugModes(guard, checker, debug.check_leaves)


class CudaDebugModes(DebugModes):
    guarded_program = FlaggedProgram
