"""A compiled function: checks inputs, runs the program, applies updates all or nothing.

A call costs little beyond the program's own work: what each input must be is worked out at
compile time, an input that already is an array of exactly that dtype and ndim passes with
three comparisons, and the program (runtime/native.py on the cpu device: the whole schedule
in one C call) hands back results that are already fresh. With `trust_input` set even the
comparisons are skipped. Pickling a Function stores its graph (see runtime/serialize.py) and
compiles it again on load, which finds its C library in the cache instead of running the
compiler.
"""

from __future__ import annotations

import sys
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


def convert_input(var: Variable, position: int, arg, downcast: bool = False) -> np.ndarray:
    """The argument as an array of var's type, or a TypeError/ValueError naming the input.
    With `downcast`, arrays of any numeric dtype are cast (Theano's allow_input_downcast)."""
    label = input_label(var, position)
    want = np.dtype(var.dtype)  # native byte order: C kernels read the bytes as they are
    if isinstance(arg, (np.ndarray, np.generic)):
        array = np.asarray(arg)
        if array.dtype != want:
            if not (downcast or np.can_cast(array.dtype, want, "safe")):
                raise TypeError(
                    f"{label} expects {var.dtype}, got a {array.dtype} array that "
                    f"cannot be cast safely; convert it with .astype({var.dtype!r})"
                )
            array = array.astype(want)
    else:  # Python numbers and lists are weakly typed: they take the input's dtype
        try:
            array = dtypes.weak_value(arg, var.dtype)
        except TypeError as e:
            raise TypeError(f"{label}: {e}") from None
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


def build_checker(inputs: Sequence[Variable], downcast: Sequence[bool] = ()):
    """`render_checker` compiled, with `convert` checking the count then each argument
    (`downcast[i]`: input i casts arrays of any numeric dtype)."""
    downcast = list(downcast) or [False] * len(inputs)

    def convert(args: tuple) -> tuple:
        if len(args) != len(inputs):
            names = ", ".join(v.name or f"<input {i}>" for i, v in enumerate(inputs))
            raise TypeError(f"this function takes {len(inputs)} inputs ({names}), got {len(args)}")
        return tuple(map(convert_input, inputs, range(len(args)), args, downcast))

    scope = {"ndarray": np.ndarray, "convert": convert}
    scope.update((f"d{i}", np.dtype(v.dtype)) for i, v in enumerate(inputs))
    exec(compile(render_checker(inputs), "<input check>", "exec"), scope)
    return scope["check"]


class Function:
    """Call with NumPy arrays (one per input); returns one array or a list, as compiled.

    Attributes: `inputs`, `outputs`, `updates`, `device`, `graph` (networkx), `kernels`,
    `source`, `rewrites`, `profile`, `trust_input`, `borrow_outputs`, `nan_guard`, `check`.

    `trust_input` (default False, settable): when True, the arguments are handed to the
    program unchecked, so they must be NumPy arrays of exactly the inputs' dtypes and ndims
    (and static shapes); anything else gives wrong results or an error from deep inside.
    Outputs and updates behave the same either way.

    `borrow_outputs` (default False, settable): when False, every call returns arrays that
    share memory with nothing anyone else can see: no input, shared value, constant, other
    output, or earlier result still referenced (the memory of an output you dropped may
    hold the next one: a cpu function keeps its last outputs between calls for that). When True, the function may write the next call's outputs into the
    arrays this call returned even while you hold them (saving their allocation, which for
    large outputs costs as much as a cheap kernel): a borrowed output stays valid until the
    next call of the same function starts, and is overwritten by it, even by a call that
    fails. It never aliases that call's inputs, a shared variable's value, or another
    output, and a call that takes the previous output as an input does not write into it.
    Copy what you keep.

    `nan_guard`, `check`: the debugging modes it was compiled with (see `compile`).

    A Function pickles with its shared variables by value: the functions and shared
    variables of one pickle share state with each other, and with nothing outside it.
    """

    nan_guard = check = False  # set by compile, read by pickling

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
        sources=None,
        trust_input: bool = False,
        borrow_outputs: bool = False,
        specs: Sequence = (),
        name: str | None = None,
    ):
        self.inputs = list(inputs)
        self.name = name
        self.specs = list(specs) or [None] * len(self.inputs)  # each input's S.In, if any
        self.outputs = list(outputs)
        self.updates = list(updates)
        self.fgraph = fgraph
        self.device = device
        self._sources = sources  # a KernelModule, or None where nothing is generated
        self.kernels: list = list(sources.kernels) if sources is not None else []
        self.rewrites = list(rewrites)
        self.profile = Profile() if profile else None
        self.trust_input = trust_input
        self._program = program
        self._call = program.call  # leaf values → fresh results (outputs, then update values)
        self._single = single_output
        self._shared = list(shared)  # the program's leaves after the inputs, in this order
        self._graph = None
        self._downcast = [bool(getattr(spec, "allow_downcast", False)) for spec in self.specs]
        self._check = build_checker(self.inputs, self._downcast)
        self._binder = Arguments(self.inputs, self.specs)
        self._n_outputs = len(fgraph.outputs) - len(fgraph.update_targets)
        self._targets = list(fgraph.update_targets)
        self._donors: list = []  # shared variables whose gemm update may write them in place
        self.borrow_outputs = borrow_outputs

    def use_donors(self, donors: Sequence[bool]) -> None:
        """Per update target, whether its gemm update may write the target's array in place
        (runtime/gemm_updates.py); the program's last steps are those updates. Only the C
        runner writes in place; elsewhere this does nothing."""
        call_donating = getattr(self._program, "call_donating", None)
        targets = [t for t, donor in zip(self._targets, donors) if donor]
        if call_donating is None or not targets:
            return
        self._program.first_donor = len(self._program.schedule.steps) - len(targets)
        self._donors, self._call_donating = targets, call_donating

    @property
    def borrow_outputs(self) -> bool:
        return self._borrow

    @borrow_outputs.setter
    def borrow_outputs(self, value: bool) -> None:
        self._borrow = bool(value)
        self._program.borrow = self._borrow  # the numpy program ignores it: results stay fresh

    @property
    def graph(self):
        """The compiled graph as a networkx.DiGraph (see FunctionGraph.to_networkx)."""
        if self._graph is None:
            self._graph = self.fgraph.to_networkx()
        return self._graph

    @property
    def source(self) -> str:
        """The whole generated source exactly as compiled: the prelude, then every kernel after
        its note (docs/kernels.md, "Reading the source"); "" where nothing was generated."""
        return self._sources.source if self.kernels else ""

    def dump(self, directory: str, inputs=None) -> list[str]:
        """Write files that build as written into `directory`: the whole source, each kernel
        in a file of its own beside a shared header, and a README with the compile commands.
        With `inputs` (the arguments of a call) also a script, `reproduce.py`, that reruns
        the kernels on them and compares with the NumPy reference. Returns the paths."""
        from runtime.dump import dump

        return dump(self, directory, inputs)

    def __call__(self, *args, **kwargs):
        if kwargs or len(args) != len(self.inputs):  # keywords, defaults, or a count error
            args = self._binder.bind(args, kwargs)
        if not self.trust_input:
            args = self._check(args)
        donated = _donated(self._donors) if self._donors else ()
        if self._shared:
            args = (*args, *[_host(s._value) for s in self._shared])
        if self.profile is None:
            results = self._call_donating(donated, *args) if donated else self._call(*args)
        else:
            self.profile.begin_call()
            results = self._program.run(args, self.profile)
            self.profile.end_call(self.fgraph.nodes)
        if self._targets:  # every value is computed: the updates apply together
            for target, value in zip(self._targets, results[self._n_outputs :]):
                target._value = value
        if self._single:
            return results[0]
        return list(results[: self._n_outputs])

    def __reduce__(self):
        from runtime.serialize import function_state, load_function

        return load_function, (function_state(self),)


class Arguments:
    """Binds a call's arguments to the inputs: positions first, then keywords by input name,
    then defaults (`S.In(x, value=...)`); missing or unknown ones raise a TypeError naming them."""

    def __init__(self, inputs: Sequence[Variable], specs: Sequence):
        self.inputs = list(inputs)
        self.names = [getattr(s, "name", None) or v.name for s, v in zip(specs, inputs)]
        self.position = {n: i for i, n in enumerate(self.names) if n}
        self.defaults = [
            None if getattr(s, "value", None) is None else convert_input(v, i, s.value)
            for i, (s, v) in enumerate(zip(specs, inputs))
        ]

    def bind(self, args: tuple, kwargs: dict) -> tuple:
        n = len(self.inputs)
        if len(args) > n:
            raise TypeError(f"this function takes {n} inputs ({self._listed()}), got {len(args)}")
        values = list(args) + [_MISSING] * (n - len(args))
        for key, value in kwargs.items():
            i = self.position.get(key)
            if i is None:
                raise TypeError(f"this function has no input named {key!r}; {self._listed()}")
            if values[i] is not _MISSING:
                raise TypeError(f"input {key!r} (position {i}) is given twice")
            values[i] = value
        for i, value in enumerate(values):
            if value is _MISSING:
                if self.defaults[i] is None:
                    raise TypeError(
                        f"this function takes {n} inputs ({self._listed()}); "
                        f"{input_label(self.inputs[i], i)} is missing and has no default"
                    )
                values[i] = self.defaults[i]
        return tuple(values)

    def _listed(self) -> str:
        return ", ".join(n or f"<input {i}>" for i, n in enumerate(self.names))


_MISSING = object()


def _references(holder) -> int:
    """The reference count of holder._value, seen from here (the attribute, this frame)."""
    value = holder._value
    return sys.getrefcount(value)


class _Holder:
    __slots__ = ("_value",)

    def __init__(self):
        self._value = np.empty(0)


_SOLE_HOLDER = _references(_Holder())  # the count of an array only its holder keeps


def _donated(shared: list) -> tuple:
    """The values of these shared variables that nothing else holds (no caller keeps the old
    array, nor a view of it) and that a BLAS can write in place: what a call may update where
    they lie."""
    return tuple(
        s._value
        for s in shared
        if _references(s) == _SOLE_HOLDER
        and type(s._value) is np.ndarray
        and s._value.flags.c_contiguous
        and s._value.flags.owndata
        and s._value.flags.writeable
        and s._value.flags.aligned
    )


def _host(value) -> np.ndarray:
    """A shared value as a host array: one a cuda function left on the GPU is copied back."""
    return value if value.__class__ is np.ndarray else np.asarray(value)
