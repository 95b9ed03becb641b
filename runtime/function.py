"""A compiled function: checks inputs, runs the program, applies updates all or nothing.

A call costs little beyond the program's own work: what each input must be is worked out at
compile time, an input that already is an array of exactly that dtype and ndim passes with
three comparisons, and the outputs are copied only where they alias an input, a shared value,
each other, or memory the call does not own. With `trust_input` set even those comparisons
are skipped. Pickling a Function stores its graph (see runtime/serialize.py) and compiles it
again on load, which finds its C library in the cache instead of running the compiler.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from runtime.profile import Profile
from symbolic import dtypes
from symbolic.graph import SharedVariable, Variable
from symbolic.optimizer.fgraph import FunctionGraph


def input_label(var: Variable, position: int) -> str:
    """How errors name an input: by its name and position."""
    return f"input {var.name!r} (position {position})" if var.name else f"input {position}"


def check_shape(var: Variable, label: str, array):
    """`array` (of var's dtype) when its ndim and shape fit var's type; else the error."""
    if array.ndim != var.ndim:
        raise TypeError(
            f"{label} expects a {var.ndim}-d {var.dtype} array, got shape {array.shape}"
        )
    for axis, (want_n, have) in enumerate(zip(var.type.shape, array.shape)):
        if want_n is not None and want_n != have:
            raise ValueError(
                f"{label} has static shape {var.type.shape}, got shape {array.shape} (axis {axis})"
            )
    return array


def convert_input(var: Variable, position: int, arg) -> np.ndarray:
    """The argument as an array of var's type, or a TypeError/ValueError naming the input."""
    label = input_label(var, position)
    want = np.dtype(var.dtype)  # native byte order: C kernels read the bytes as they are
    if isinstance(arg, (np.ndarray, np.generic)):
        array = np.asarray(arg)
        if array.dtype != want:
            if not np.can_cast(array.dtype, want, "safe"):
                raise TypeError(
                    f"{label} expects {var.dtype}, got a {array.dtype} array that "
                    f"cannot be cast safely; convert it with .astype({var.dtype!r})"
                )
            array = array.astype(want)
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
        cast = array.astype(want)
        if dtypes.kind(var.dtype) != "f" and not np.array_equal(cast, array):
            raise TypeError(f"{label}: values do not fit in {var.dtype}")
        array = cast
    return check_shape(var, label, array)


def render_checker(inputs: Sequence[Variable]) -> str:
    """The source of `check(args)`: the arguments as given when each is an ndarray of exactly
    its input's dtype (`d<i>`, the dtype object: NumPy reuses one per builtin dtype), ndim and
    static shape; else `convert(args)`. Written out per function, the test costs ~0.1 µs
    where a loop over per-input specs costs ~0.4 µs."""
    tests = []
    for i, v in enumerate(inputs):
        tests += [f"a{i}.__class__ is ndarray", f"a{i}.dtype is d{i}", f"a{i}.ndim == {v.ndim}"]
        tests += [
            f"a{i}.shape[{axis}] == {n}" for axis, n in enumerate(v.type.shape) if n is not None
        ]
    names = "".join(f"a{i}, " for i in range(len(inputs)))
    lines = ["def check(args):", f"    if len(args) == {len(inputs)}:"]
    if inputs:
        lines += [f"        ({names}) = args", f"        if {' and '.join(tests)}:"]
    lines += ["            return args" if inputs else "        return args"]
    lines += ["    return convert(args)"]
    return "\n".join(lines) + "\n"


def build_checker(inputs: Sequence[Variable]):
    """`render_checker` compiled, with `convert` checking the count then each argument."""

    def convert(args: tuple) -> tuple:
        if len(args) != len(inputs):
            names = ", ".join(v.name or f"<input {i}>" for i, v in enumerate(inputs))
            raise TypeError(f"this function takes {len(inputs)} inputs ({names}), got {len(args)}")
        return tuple(map(convert_input, inputs, range(len(args)), args))

    scope = {"ndarray": np.ndarray, "convert": convert}
    scope.update((f"d{i}", np.dtype(v.dtype)) for i, v in enumerate(inputs))
    exec(compile(render_checker(inputs), "<input check>", "exec"), scope)
    return scope["check"]


class Function:
    """Call with NumPy arrays (one per input); returns one array or a list, as compiled.

    Attributes: `inputs`, `outputs`, `updates`, `device`, `graph` (networkx), `kernels`,
    `source`, `rewrites`, `profile`, `trust_input`.

    `trust_input` (default False, settable): when True, the arguments are handed to the
    program unchecked, so they must be NumPy arrays of exactly the inputs' dtypes and ndims
    (and static shapes); anything else gives wrong results or a crash. Outputs stay fresh
    and updates stay all or nothing either way.

    A Function pickles with its shared variables by value: the functions and shared
    variables of one pickle share state with each other, and with nothing outside it.
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
        trust_input: bool = False,
    ):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.updates = list(updates)
        self.fgraph = fgraph
        self.device = device
        self.kernels: list = list(kernels)
        self.rewrites = list(rewrites)
        self.profile = Profile() if profile else None
        self.trust_input = trust_input
        self._program = program
        self._single = single_output
        self._shared = list(shared)  # the program's leaves after the inputs, in this order
        self._graph = None
        self._check = build_checker(self.inputs)
        self._n_outputs = len(fgraph.outputs) - len(fgraph.update_targets)
        self._targets = list(fgraph.update_targets)
        self._plain = not self._shared and len(fgraph.outputs) == 1 and self.profile is None

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
        if not self.trust_input:
            args = self._check(args)
        if self._plain:  # one output, no state: the common case, without the lists
            out = self._program.call(*args)[0]
            flags = out.flags
            if not (flags.owndata and flags.writeable) or _is_one_of(out, args):
                out = out.copy()
            return out if self._single else [out]
        leaves = (*args, *[_host(s._value) for s in self._shared])
        if self.profile is None:
            results = self._program.call(*leaves)
        else:
            results = self._program.run(leaves, self.profile)
        n = self._n_outputs
        outputs = _fresh(results[:n], leaves)
        new_state = _fresh(results[n:], (*leaves, *outputs))
        for target, value in zip(self._targets, new_state):  # nothing above has failed
            target._value = value
        return outputs[0] if self._single else outputs

    def __reduce__(self):
        from runtime.serialize import function_state, load_function

        return load_function, (function_state(self),)


def _host(value) -> np.ndarray:
    """A shared value as a host array: one a cuda function left on the GPU is copied back."""
    return value if value.__class__ is np.ndarray else np.asarray(value)


def _is_one_of(a: np.ndarray, arrays: Sequence[np.ndarray]) -> bool:
    for b in arrays:
        if a is b:
            return True
    return False


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
