"""Running a loop: the steps in order, each row of the stacked outputs written as it comes.

`run_loop` calls a device's compiled step (an interpreted schedule on numpy, C kernels and
BLAS on cpu where the runner cannot run the loop itself) once per step, in Python. The checks
and messages here are also those of the cpu runner's loop (runtime/loops.py).
"""

from __future__ import annotations

import numpy as np


class Rows:
    """The stacked outputs of a loop, filled row by row.

    Outputs whose values are one array at a step (sum_to hands back its input when the shapes
    agree, so the gradients of a sum and of its operands often are) share one buffer, as long
    as they stay one array; the first step that gives two arrays gives the second its own copy
    of the rows so far. `allocate(j, shape, dtype)` makes output j's buffer.
    """

    def __init__(self, n_steps: int, count: int, allocate):
        self.n, self.allocate = n_steps, allocate
        self.buffers: list = [None] * count
        self.same: list = [None] * count  # same[j] = i: output j shares output i's buffer
        self.started = False

    def store(self, t: int, values: list) -> None:
        buffers, same = self.buffers, self.same
        if not self.started:  # the first step: allocate, or share
            self.started = True
            for j, v in enumerate(values):
                same[j] = next((i for i in range(j) if values[i] is v and same[i] is None), None)
                if same[j] is None:
                    buffers[j] = self.allocate(j, (self.n,) + v.shape, v.dtype)
        for j, v in enumerate(values):
            i = same[j]
            if i is not None:
                if v is values[i]:
                    continue
                buffers[j], same[j] = self.allocate(j, buffers[i].shape, buffers[i].dtype), None
                buffers[j][...] = buffers[i]
            buffers[j][t] = v

    def result(self) -> list[np.ndarray]:
        return [b if i is None else self.buffers[i] for b, i in zip(self.buffers, self.same)]


def new_buffer(j: int, shape: tuple, dtype) -> np.ndarray:
    return np.empty(shape, dtype)


def run_loop(op, step, arrays, allocate=None) -> list[np.ndarray]:
    """The outputs of Scan node `op` on the input values `arrays`; `step(*inner input values)`
    returns the inner outputs' values."""
    s, k = op.n_sequences, op.n_states
    n = int(arrays[0])
    sequences, states = arrays[1 : 1 + s], list(arrays[1 + s : 1 + s + k])
    fixed = arrays[1 + s + k :]
    check_lengths(op, n, sequences)
    stacked = [j for j in range(k) if op.stacked[j]] + list(range(k, len(op.inner_outputs)))
    rows = Rows(n, len(stacked), allocate or new_buffer)
    for t in range(n - 1, -1, -1) if op.reverse else range(n):
        try:
            values = step(*[x[t, ...] for x in sequences], *states, *fixed)  # x[t, ...]: an array
        except Exception as e:
            raise step_error(op, t, n, e) from e
        for j in range(k):
            if values[j].shape != states[j].shape:
                raise state_shape_error(op, t, j, values[j].shape, states[j].shape)
        states = list(values[:k])
        rows.store(t, [values[j] for j in stacked])
    found = iter(rows.result() if n else [_empty_rows(op, j, states) for j in stacked])
    outputs = [next(found) if op.stacked[j] else states[j] for j in range(k)]
    return outputs + list(found)


def check_lengths(op, n: int, sequences) -> None:
    if n < 0:
        raise ValueError(f"scan of {op.describe_step()}: n_steps is {n}; it must be ≥ 0")
    for j, x in enumerate(sequences):
        if x.shape[0] < n:
            raise ValueError(
                f"scan of {op.describe_step()}: sequence {j} has {x.shape[0]} entries, "
                f"fewer than n_steps = {n}"
            )


def _empty_rows(op, out: int, states) -> np.ndarray:
    """Zero steps: the stacked output, empty, of the shape its rows would have."""
    var = op.inner_outputs[out]
    shape = states[out].shape if out < op.n_states else var.type.shape
    if None in shape:
        raise ValueError(
            f"scan of {op.describe_step()} with zero steps: the shape of output {out} "
            "is not known without running a step"
        )
    return np.empty((0,) + tuple(shape), var.dtype)


def state_shape_error(op, t: int, j: int, shape: tuple, expected: tuple) -> ValueError:
    return ValueError(
        f"scan: {op.describe_step()} returned state {j} of shape {shape} at step {t}, "
        f"but the state has shape {expected}"
    )


def step_error(op, t: int, n: int, error: Exception) -> Exception:
    message = f"scan: step {t} of {n} of {op.describe_step()} failed:\n  {error}"
    try:
        return type(error)(message)
    except Exception:
        return RuntimeError(message)
