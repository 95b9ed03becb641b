"""A compiled function: checks inputs, runs the program, applies updates all or nothing."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from runtime.profile import Profile
from symbolic import dtypes
from symbolic.graph import SharedVariable, Variable
from symbolic.optimizer.fgraph import FunctionGraph


def convert_input(var: Variable, position: int, arg) -> np.ndarray:
    """The argument as an array of var's type, or a TypeError/ValueError naming the input."""
    label = f"input {var.name!r} (position {position})" if var.name else f"input {position}"
    if isinstance(arg, (np.ndarray, np.generic)):
        array = np.asarray(arg)
        if array.dtype.name != var.dtype:
            if not np.can_cast(array.dtype, var.dtype, "safe"):
                raise TypeError(
                    f"{label} expects {var.dtype}, got a {array.dtype} array that "
                    f"cannot be cast safely; convert it with .astype({var.dtype!r})"
                )
            array = array.astype(var.dtype)
    else:  # Python numbers and lists are weakly typed: they take the input's dtype
        try:
            array = np.asarray(arg)
        except Exception as e:
            raise TypeError(f"{label}: cannot turn {type(arg).__name__} into an array") from e
        if array.dtype.kind not in "biuf" or (
            array.dtype.kind == "f" and dtypes.kind(var.dtype) != "f"
        ):
            raise TypeError(
                f"{label} expects {var.dtype}, got {type(arg).__name__} of {array.dtype} values"
            )
        cast = array.astype(var.dtype)
        if dtypes.kind(var.dtype) != "f" and not np.array_equal(cast, array):
            raise TypeError(f"{label}: values do not fit in {var.dtype}")
        array = cast
    if array.ndim != var.ndim:
        raise TypeError(
            f"{label} expects a {var.ndim}-d {var.dtype} array, got shape {array.shape}"
        )
    for axis, (want, have) in enumerate(zip(var.type.shape, array.shape)):
        if want is not None and want != have:
            raise ValueError(
                f"{label} has static shape {var.type.shape}, got shape {array.shape} (axis {axis})"
            )
    return array


class Function:
    """Call with NumPy arrays (one per input); returns one array or a list, as compiled.

    Attributes: `inputs`, `outputs`, `updates`, `device`, `graph` (networkx), `kernels`,
    `source`, `rewrites`, `profile`.
    """

    def __init__(
        self,
        inputs,
        outputs,
        updates,
        fgraph: FunctionGraph,
        program,
        device: str,
        single_output: bool,
        shared: Sequence[SharedVariable],
        rewrites=(),
        profile: bool = False,
        kernels=(),
    ):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.updates = list(updates)
        self.fgraph = fgraph
        self.device = device
        self.kernels: list = list(kernels)
        self.rewrites = list(rewrites)
        self.profile = Profile() if profile else None
        self._program = program
        self._single = single_output
        self._shared = list(shared)  # the program's leaves after the inputs, in this order
        self._graph = None

    @property
    def graph(self):
        """The compiled graph as a networkx.DiGraph (see FunctionGraph.to_networkx)."""
        if self._graph is None:
            self._graph = self.fgraph.to_networkx()
        return self._graph

    @property
    def source(self) -> str:
        return "\n\n".join(k.source for k in self.kernels)

    def dump(self, directory: str) -> list[str]:
        """Write each generated kernel to a file in `directory`; returns the paths."""
        os.makedirs(directory, exist_ok=True)
        paths = []
        for k in self.kernels:
            path = os.path.join(directory, f"{k.name}.{'cu' if k.target == 'cuda' else 'c'}")
            with open(path, "w") as f:
                f.write(k.source)
            paths.append(path)
        return paths

    def __call__(self, *args):
        if len(args) != len(self.inputs):
            names = ", ".join(v.name or f"<input {i}>" for i, v in enumerate(self.inputs))
            raise TypeError(
                f"this function takes {len(self.inputs)} inputs ({names}), got {len(args)}"
            )
        values = [convert_input(v, i, a) for i, (v, a) in enumerate(zip(self.inputs, args))]
        state = [s._value for s in self._shared]
        results = self._program.run(values + state, self.profile)
        n = len(self.outputs)
        outputs = _fresh(results[:n], values + state)
        new_state = _fresh(results[n:], values + state + outputs)
        for (target, _), value in zip(self.updates, new_state):  # nothing above has failed
            target._value = value
        return outputs[0] if self._single else outputs


def _fresh(arrays: Sequence[np.ndarray], taken: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The arrays, copied where they are views or alias `taken` or each other."""
    seen = {id(a) for a in taken}
    out = []
    for a in arrays:
        if id(a) in seen or not a.flags.owndata or not a.flags.writeable:
            a = a.copy()
        seen.add(id(a))
        out.append(a)
    return out
