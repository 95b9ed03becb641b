"""S.scan: build a Scan node from a Python step function, as Theano's scan does.

The step function is called once, on placeholders: one per sequence slice (`x[t]`), one per
fed-back state (`h[t-1]`), then the non-sequences as given. What it returns becomes the inner
graph. Variables the step reads that were built before the call (inputs, shared variables,
expressions of them: the non-sequences too) become non-sequences of the node, so the step
reads their values and never recomputes them; a shared variable the step returns an update for
becomes a carried state, so the update threads through the steps and its last value comes back
in `updates`.
"""

from __future__ import annotations

from collections.abc import Callable

from symbolic.compiler import check_updates
from symbolic.elemwise import minimum
from symbolic.graph import (
    Constant,
    SharedVariable,
    TensorType,
    Variable,
    as_variable,
    constant,
    graph_inputs,
    tensor,
)
from symbolic.scan.hoist import hoist_input_projections, hoist_invariants
from symbolic.scan.parts import LoopParts
from symbolic.scan.truncate import truncate_gradient as truncate
from symbolic.shape import dim, static_int
from symbolic.trace import Location


def scan(
    fn: Callable,
    sequences=None,
    outputs_info=None,
    non_sequences=None,
    n_steps=None,
    truncate_gradient: int = -1,
    go_backwards: bool = False,
    mode=None,
    name: str | None = None,
    profile: bool = False,
    allow_gc=None,
    strict: bool = False,
    return_list: bool = False,
):
    """Loop `fn` over steps: `(outputs, updates) = S.scan(fn, sequences, outputs_info, ...)`.

    Parameters
    ----------
    fn : called as `fn(*sequence_slices, *previous_states, *non_sequences)`; returns the step's
        outputs (a variable or a list), or updates (a dict or a list of (shared, value) pairs),
        or both as a tuple `(outputs, updates)`.
    sequences : tensors iterated along axis 0 (a tensor or a list); step t reads `seq[t]`.
    outputs_info : one entry per output of `fn`: its initial value (the output is fed back: the
        next step receives it, tap −1), `{"initial": value, "taps": [-1]}` alike, or None (not
        fed back). None: no output is fed back.
    non_sequences : tensors passed whole to every step, after the states.
    n_steps : the number of steps (an int or an integer scalar); by default the length of the
        shortest sequence. Required without sequences.
    truncate_gradient : -1 (full backpropagation through time) or k ≥ 0: gradients flow back
        through the last k steps only (see truncate.py; Theano's meaning, except that the
        initial states get no gradient when the window does not reach them).
    go_backwards : iterate the sequences from their end: step t reads `seq[-1 - t]`, and the
        outputs are stacked in the order they were computed (Theano's meaning).
    mode, profile, allow_gc : accepted for Theano's sake and ignored: `S.compile` chooses how
        the loop runs.
    name : names the loop in messages and printed graphs (default: the step function's name).
    strict : every shared variable the step reads must be passed in `non_sequences`
        (Theano's check against capturing state by accident); a ValueError names it.
    return_list : return the outputs as a list even when `fn` has one output.

    Returns
    -------
    outputs : each output's values at every step, stacked along a new axis 0 (one variable
        when `fn` has one output, else a list).
    updates : a dict {shared variable: its value after the last step}, for `S.compile`.
    """
    start = Variable(TensorType("bool", ()))  # everything built from here on is the step's
    step_name = name or getattr(fn, "__name__", type(fn).__name__)
    code = getattr(fn, "__code__", None)
    step_location = Location(code.co_filename, code.co_firstlineno, step_name) if code else None
    describe = f"the step function {step_name!r}" + (
        f" (defined at {step_location})" if step_location else ""
    )

    sequences = [_sequence(x, i) for i, x in enumerate(_as_list(sequences))]
    if go_backwards:  # Theano reverses, then takes the first n_steps: the last ones, backwards
        sequences = [x[::-1] for x in sequences]
    if not (isinstance(truncate_gradient, int) and truncate_gradient >= -1):
        raise ValueError(
            f"scan: truncate_gradient must be -1 or a count ≥ 0, got {truncate_gradient!r}"
        )
    explicit = outputs_info is not None
    infos = [_initial(v, i) for i, v in enumerate(_as_list(outputs_info))]
    non_sequences = [as_variable(v) for v in _as_list(non_sequences)]
    steps = _n_steps(n_steps, sequences)

    slices = [tensor(_slice_name(x), x.dtype, x.type.shape[1:]) for x in sequences]
    previous = [
        tensor(f"{init.name or f'state{i}'}[t-1]", init.dtype, init.type.shape)
        for i, init in infos
        if init is not None
    ]
    try:
        returned = fn(*slices, *previous, *non_sequences)
    except Exception as e:
        raise _retyped(e, f"scan: {describe} failed while building the step: {e}") from e
    outputs, updates = _split_return(returned, describe)
    if not explicit:
        infos = [(i, None) for i in range(len(outputs))]
    if len(outputs) != len(infos):
        raise ValueError(
            f"scan: {describe} returned {len(outputs)} outputs, but outputs_info has "
            f"{len(infos)} entries (one per output: an initial value, or None)"
        )
    fed = [(i, init, outputs[i]) for i, init in infos if init is not None]
    for i, init, out in fed:
        _check_state(i, init, out, describe)
    mapped = [outputs[i] for i, init in infos if init is None]
    updates = _with_default_updates(updates, fed, mapped, start, slices + previous, describe)

    # carried states: the shared variables the step updates, in the order of the updates
    targets = [t for t, _ in updates]
    parts = LoopParts(
        steps,
        slices,
        sequences,
        previous + [tensor(f"{t.name or 'shared'}[t-1]", t.dtype, t.type.shape) for t in targets],
        [init for _, init, _ in fed] + targets,
        [True] * len(fed) + [False] * len(targets),
        [out for _, _, out in fed] + [v for _, v in updates],
        mapped=mapped,
    )
    ids = {id(t) for t in targets}
    captured = _captured(parts.outputs(), start, set(map(id, slices + previous)), ids, describe)
    if strict:
        _check_strict(captured, non_sequences, ids, describe)
    replace = dict(zip(targets, parts.states[len(fed) :]))
    for v in captured:
        if id(v) not in ids:
            parts.add_fixed(tensor(v.name, v.dtype, v.type.shape), v)
            replace[v] = parts.fixed[-1]
    parts.substitute(replace)
    hoist_input_projections(parts)
    hoist_invariants(parts)
    if truncate_gradient != -1:
        truncate(parts, truncate_gradient)
    node = parts.node(step_name, step_location)
    results = iter(node.outputs)
    state_outputs = [next(results) for _ in fed]
    final_values = [next(results) for _ in targets]
    mapped_outputs = list(results)
    by_position = dict(zip([i for i, init in infos if init is not None], state_outputs))
    by_position |= dict(zip([i for i, init in infos if init is None], mapped_outputs))
    ordered = [by_position[i] for i in range(len(infos))]
    result = ordered[0] if len(ordered) == 1 and not return_list else ordered
    return result, dict(zip(targets, final_values))


def _check_strict(captured, non_sequences, updated: set, describe: str) -> None:
    """strict=True: the step may read shared variables only through non_sequences (or update
    them); a shared variable it captured by itself is an error."""
    passed = {id(v) for v in non_sequences} | updated
    for v in captured:
        if isinstance(v, SharedVariable) and id(v) not in passed:
            raise ValueError(
                f"scan(strict=True): {describe} reads the shared variable {v.describe()} "
                "without it being in non_sequences; pass it there"
            )


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _slice_name(x: Variable) -> str:
    return f"{x.name}[t]" if x.name else "seq[t]"


def _sequence(x, i: int) -> Variable:
    if isinstance(x, dict):
        if list(x.get("taps", [0])) != [0]:
            raise NotImplementedError(f"scan: sequence {i} asks for taps {x['taps']}; only [0]")
        x = x["input"]
    x = as_variable(x)
    if x.ndim == 0:
        raise ValueError(f"scan: sequence {i} ({x.describe()}) has no axis to iterate over")
    return x


def _initial(value, i: int) -> tuple[int, Variable | None]:
    """(position, initial value or None) of outputs_info entry i."""
    if isinstance(value, dict):
        taps = list(value.get("taps", [-1]))
        if taps != [-1]:
            raise NotImplementedError(
                f"scan: outputs_info[{i}] asks for taps {taps}; only [-1] (the previous value) "
                "is supported"
            )
        value = value.get("initial")
    return i, None if value is None else as_variable(value)


def _n_steps(n_steps, sequences: list[Variable]) -> Variable:
    if n_steps is None:
        if not sequences:
            raise ValueError("scan: n_steps is required when there are no sequences")
        lengths = [dim(x, 0) for x in sequences]
        known = [static_int(n) for n in lengths]
        if None not in known:
            return constant(min(known), "int64")
        steps = lengths[0]
        for n in lengths[1:]:
            steps = minimum(steps, n)
        return steps
    if isinstance(n_steps, Variable):
        if n_steps.ndim != 0 or n_steps.dtype not in ("int8", "int16", "int32", "int64", "uint8"):
            raise TypeError(f"scan: n_steps must be an integer scalar, got {n_steps.describe()}")
        return n_steps
    if int(n_steps) != n_steps:
        raise TypeError(f"scan: n_steps must be an integer, got {n_steps!r}")
    return constant(int(n_steps), "int64")


def _retyped(error: Exception, message: str) -> Exception:
    try:
        return type(error)(message)
    except Exception:
        return RuntimeError(message)


def _is_update_list(value) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, (list, tuple))
        and len(value) > 0
        and all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], SharedVariable) for p in value
        )
    )


def _split_return(returned, describe: str) -> tuple[list[Variable], list[tuple]]:
    """(outputs, update pairs) from what the step returned, in any of Theano's forms."""
    outputs, updates = returned, []
    if _is_update_list(returned):
        outputs, updates = [], returned
    elif isinstance(returned, tuple) and len(returned) == 2:
        first, second = returned
        if _is_update_list(second) or (isinstance(second, (list, tuple)) and not second):
            outputs, updates = first, second
        elif _is_update_list(first):
            outputs, updates = second, first
    outputs = [] if outputs is None else outputs
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    checked = []
    for k, out in enumerate(outputs):
        try:
            checked.append(as_variable(out))
        except TypeError as e:
            raise TypeError(f"scan: output {k} of {describe} is not a tensor: {e}") from None
    return checked, check_updates(updates, f"scan: {describe}: ")


def _check_state(i: int, init: Variable, out: Variable, describe: str) -> None:
    """The output fed back must have the state's type: same dtype and ndim, no static shape
    conflict (the sizes are checked again on every step)."""
    what = f"scan: output {i} of {describe}, fed back as a state"
    if out.ndim != init.ndim:
        raise TypeError(
            f"{what}, is {out.type} but its initial value outputs_info[{i}] is {init.type}: "
            f"{out.ndim} axes against {init.ndim}"
        )
    if out.dtype != init.dtype:
        raise TypeError(
            f"{what}, is {out.type} but its initial value outputs_info[{i}] is {init.type}; "
            f"make the dtypes agree (e.g. .astype({init.dtype!r}))"
        )
    for a, b in zip(out.type.shape, init.type.shape):
        if a is not None and b is not None and a != b:
            raise ValueError(
                f"{what}, has shape {out.type.shape} but its initial value outputs_info[{i}] "
                f"has shape {init.type.shape}"
            )


def _with_default_updates(updates, fed, mapped, start, placeholders, describe) -> list[tuple]:
    """The updates, plus `default_update` of each shared variable the step reads that has one
    and no explicit update (the hook a random stream's state uses: its draws inside the step
    advance it once per step)."""
    updates = list(updates)
    while True:
        roots = [out for _, _, out in fed] + [v for _, v in updates] + mapped
        targets = {id(t) for t, _ in updates}
        pending = [
            v
            for v in _captured(roots, start, set(map(id, placeholders)), targets, describe)
            if isinstance(v, SharedVariable)
            and id(v) not in targets
            and getattr(v, "default_update", None) is not None
        ]
        if not pending:
            return updates
        updates += [(v, as_variable(v.default_update, [v])) for v in pending]


def _captured(
    roots: list[Variable], start: Variable, inner: set, targets: set, describe: str
) -> list[Variable]:
    """The variables the step reads that were built before it: the implicit non-sequences.

    A walk down from the roots stops at the step's placeholders, at constants, and at every
    variable older than `start` (an input, a shared variable, an expression built outside),
    which is captured whole, unless it reads a shared variable the loop updates (ids in
    `targets`): that expression is rebuilt inside, on the value the step sees. Shared
    variables built inside the step are captured too.
    """
    found, seen = [], set()
    stack = list(reversed(roots))
    while stack:
        v = stack.pop()
        if id(v) in seen or id(v) in inner or isinstance(v, Constant):
            continue
        seen.add(id(v))
        old = v.uid < start.uid or isinstance(v, SharedVariable)
        reads_target = targets and v.owner is not None and targets & set(map(id, graph_inputs([v])))
        if old and not reads_target:
            found.append(v)
        elif v.owner is not None:
            stack.extend(reversed(v.owner.inputs))
        else:
            raise ValueError(
                f"scan: {describe} reads {v.describe()}, an input built inside the step; "
                "build it outside and pass it in non_sequences"
            )
    return found
