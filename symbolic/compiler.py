"""compile(inputs, outputs, updates): from symbolic graphs to a callable Function."""

from __future__ import annotations

import warnings

from symbolic.graph import (
    Constant,
    SharedVariable,
    Variable,
    as_variable,
    clone_replace,
    graph_inputs,
    toposort,
)
from symbolic.inputs import In, as_in
from symbolic.optimizer.fgraph import FunctionGraph
from symbolic.optimizer.phases import optimize_graph
from symbolic.optimizer.rewriter import RewriteLog

DEVICES = ("auto", "numpy", "cpu", "cuda")
UNUSED_INPUT_ACTIONS = ("raise", "warn", "ignore")
# Theano's mode names -> the keywords of compile they stand for
MODES = {
    None: {},
    "FAST_RUN": {},
    "FAST_COMPILE": {"optimize": False},
    "DebugMode": {"check": True},
    "NanGuardMode": {"nan_guard": True},
}


def _pairs(mapping, what: str) -> list[tuple]:
    if mapping is None:
        return []
    items = list(mapping.items()) if isinstance(mapping, dict) else list(mapping)
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"{what} must be a dict or a list of (variable, expression) pairs")
    return items


def _check_inputs(inputs) -> list[Variable]:
    for i, v in enumerate(inputs):
        if (
            not isinstance(v, Variable)
            or v.owner is not None
            or isinstance(v, (Constant, SharedVariable))
        ):
            kind = (
                "a shared variable (it is already part of every graph that uses it)"
                if isinstance(v, SharedVariable)
                else "a constant"
                if isinstance(v, Constant)
                else "a computed expression"
                if isinstance(v, Variable)
                else repr(v)
            )
            raise TypeError(
                f"input {i} of compile must be a symbolic input such as S.matrix('x'); got {kind}"
            )
    if len({id(v) for v in inputs}) != len(inputs):
        raise ValueError("an input is listed twice in compile's inputs")
    return inputs


def check_updates(updates, where: str = "") -> list[tuple]:
    """The (shared, value) pairs of a dict or list, checked; `where` starts every message."""
    checked, seen = [], set()
    for target, value in _pairs(updates, f"{where}updates"):
        if not isinstance(target, SharedVariable):
            raise TypeError(f"{where}update targets must be shared variables; got {target!r}")
        if id(target) in seen:
            raise ValueError(f"{where}shared variable {target.name!r} is updated twice")
        seen.add(id(target))
        value = as_variable(value, [target])
        if value.dtype != target.dtype or value.ndim != target.ndim:
            raise TypeError(
                f"{where}the update of shared variable {target.name!r} "
                f"({target.ndim}-d {target.dtype}) has type {value.type}; cast it "
                f"with .astype({target.dtype!r})"
            )
        checked.append((target, value))
    return checked


def _with_default_updates(updates: list[tuple], expressions: list[Variable]) -> list[tuple]:
    """The updates plus the `default_update` (Theano's) of every shared variable that the
    expressions read and the updates leave alone: how a random draw's state advances. Where a
    loop carries such a variable (a draw inside a scan step), its value after the loop is the
    update instead, so the next call draws on from where the loop's last step stopped."""
    updated = {id(target) for target, _ in updates}
    updates, pending = list(updates), list(expressions)
    while pending:  # a default update may read state that has one of its own
        carried = _carried_values(pending)
        found = []
        for leaf in graph_inputs(pending):
            default = carried.get(id(leaf), getattr(leaf, "default_update", None))
            if default is not None and id(leaf) not in updated:
                updated.add(id(leaf))
                updates.append((leaf, default))
                found.append(default)
        pending = found
    return updates


def _carried_values(expressions: list[Variable]) -> dict:
    """id(shared variable with a default update) → its value after a loop that carries it:
    the nodes whose op says so (`carried_updates(node)`: Scan's)."""
    carried = {}
    for node in toposort(expressions):
        for shared, value in getattr(node.op, "carried_updates", lambda _: ())(node):
            if getattr(shared, "default_update", None) is not None:
                carried.setdefault(id(shared), value)
    return carried


def _substitute(givens, expressions: list[Variable]) -> list[Variable]:
    replace = {}
    for old, new in _pairs(givens, "givens"):
        new = as_variable(new, [old])
        if old.dtype != new.dtype or old.ndim != new.ndim:
            raise TypeError(
                f"givens: {old.describe()} cannot be replaced by {new.describe()} "
                "of another dtype or ndim"
            )
        replace[old] = new
    return clone_replace(expressions, replace) if replace else expressions


def _check_used(inputs: list[Variable], leaves: list[Variable], action: str) -> None:
    """Theano's on_unused_input: an input that is not among the `leaves` of what is computed is
    an error ("raise"), a warning ("warn") or fine ("ignore")."""
    if action not in UNUSED_INPUT_ACTIONS:
        raise ValueError(f"on_unused_input must be one of {UNUSED_INPUT_ACTIONS}, got {action!r}")
    used = {id(v) for v in leaves}
    for i, v in enumerate(inputs):
        if id(v) not in used and action != "ignore":
            message = (
                f"input {i} of compile ({v.describe()}) is not used by the outputs or updates; "
                'pass on_unused_input="warn" or "ignore" if that is intended'
            )
            if action == "raise":
                raise ValueError(message)
            warnings.warn(message, stacklevel=3)


def _mode_keywords(mode) -> dict:
    if mode not in MODES:
        raise NotImplementedError(
            f"compile: mode {mode!r} is not supported; modes: {tuple(MODES)} (FAST_COMPILE: "
            "optimize=False, DebugMode: check=True, NanGuardMode: nan_guard=True)"
        )
    return MODES[mode]


def _resolve_device(device: str) -> str:
    """numpy, cpu and cuda as asked (cuda compiles anywhere; only its calls need a GPU);
    auto: cuda where PyCUDA imports and a GPU answers, else cpu where a C compiler is found,
    else numpy (warned)."""
    from runtime.build import resolve_cpu_device

    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        from runtime.cuda.device import available

        if available():
            return "cuda"
    return resolve_cpu_device(device)


def compile(
    inputs,
    outputs,
    updates=None,
    givens=None,
    device: str = "auto",
    optimize: bool = True,
    profile: bool = False,
    trust_input: bool = False,
    borrow_outputs: bool = False,
    fast_math: bool = False,
    nan_guard: bool = False,
    check: bool = False,
    allow_input_downcast: bool | None = None,
    on_unused_input: str = "raise",
    name: str | None = None,
    mode=None,
):
    """Compile a function from `inputs` to `outputs`, applying `updates` after each call.

    Parameters
    ----------
    inputs : list of symbolic inputs, in call order, each a variable or an `S.In` (a default
        value and a keyword name). The function takes them positionally or by name
        (`f(x, corruption=0.3)`: the variable's name, or In's `name`).
    outputs : one variable (the call returns one array) or a list (the call returns a list).
    updates : (shared, expression) pairs or a dict; computed with the outputs and applied only
        after every value of the call succeeded.
    givens : (variable, replacement) pairs or a dict substituted into the graph.
    device : "auto", "numpy", "cpu" or "cuda".
    optimize : run the optimizer's phases (False: run the graph as built).
    profile : collect per-node call counts and time in `f.profile`.
    trust_input : skip the input checks (see `Function`; also settable as `f.trust_input`).
    borrow_outputs : let the next call write its outputs into the arrays this call returned
        (see `Function`; also settable as `f.borrow_outputs`).
    fast_math : cuda only: float32 exp, log, sin, cos, tan, pow use the GPU's approximate
        intrinsics (`__expf`, …: faster, a few ulp off, more far from 0); other devices
        compute exactly either way.
    nan_guard : after every node, a float output holding NaN or ±Inf raises
        `FloatingPointError` naming the node (its debugprint line), its op, the user's line
        that built it and the ranges of its inputs; the call's float arguments and shared
        values are checked first, so a NaN passed in is reported as the caller's. The call
        then applies no update. Off: no cost. See runtime/nan_guard.py.
    check : every node is run again by its NumPy reference, and the first output beyond the
        node's tolerance raises `CheckError` (an `AssertionError`) naming the node, its
        kernel and the worst element. For hunting codegen bugs; the numpy device is its own
        reference, so there it checks nothing. See runtime/check_mode.py.
    allow_input_downcast : True lets arrays of a wider dtype into an input (float64 data into
        a float32 input), cast; None or False: only casts that lose nothing (Python numbers
        take the input's dtype either way).
    on_unused_input : "raise" (default), "warn" or "ignore": what an input that no output or
        update reads is.
    name : the function's name (`f.name`), shown in messages.
    mode : Theano's name for a set of these keywords: None or "FAST_RUN" (as given),
        "FAST_COMPILE" (optimize=False), "DebugMode" (check=True), "NanGuardMode"
        (nan_guard=True).
    """
    from runtime.cpu_backend import build_cpu_program
    from runtime.debug_modes import DebugModes
    from runtime.function import Function
    from runtime.numpy_backend import NumpyProgram

    entries = [inputs] if isinstance(inputs, (Variable, In)) else list(inputs)
    specs = [as_in(entry, allow_input_downcast) for entry in entries]
    inputs = _check_inputs([s.variable if isinstance(s, In) else s for s in specs])
    implied = _mode_keywords(mode)
    optimize = optimize and implied.get("optimize", True)
    nan_guard = nan_guard or implied.get("nan_guard", False)
    check = check or implied.get("check", False)
    single = not isinstance(outputs, (list, tuple))
    outputs = [as_variable(o) for o in ([outputs] if single else outputs)]
    updates = check_updates(updates)
    updates = _with_default_updates(updates, outputs + [v for _, v in updates])
    expressions = _substitute(givens, outputs + [v for _, v in updates])
    input_ids, leaves = {id(v) for v in inputs}, graph_inputs(expressions)
    for leaf in leaves:
        if id(leaf) not in input_ids and not isinstance(leaf, (Constant, SharedVariable)):
            raise ValueError(
                f"the outputs depend on {leaf.describe()}, which is not among "
                "the inputs of compile (nor a shared variable or constant)"
            )
    _check_used(inputs, leaves, on_unused_input)
    device = _resolve_device(device)
    log = RewriteLog()
    lower = None
    if device in ("cpu", "cuda") and updates:  # updates β·z ± α·(x @ y): one gemm each
        from functools import partial

        from runtime.gemm_updates import lower_gemm_updates

        lower = partial(lower_gemm_updates, n_updates=len(updates))

    if optimize:
        expressions = optimize_graph(expressions, log, lower)
    fgraph = FunctionGraph(inputs, expressions, [t for t, _ in updates])
    from runtime.collectives import plan_collectives

    fgraph = plan_collectives(fgraph)  # all-reduces bucketed, ordered to overlap with compute
    donors = []
    if device == "cpu":  # (cuda's gemm updates write a copy of z: docs/kernels.md, CUDA)
        from runtime.gemm_updates import schedule_donors
        from runtime.joined_outputs import join_outputs

        fgraph = join_outputs(fgraph)  # before the donors' order is set: it rebuilds the graph
        donors = schedule_donors(fgraph)  # gemm updates that may write their weights, last
    shared = [v for v in fgraph.variables() if isinstance(v, SharedVariable)]
    sources, options = None, {}
    debug = DebugModes.of(fgraph, inputs + shared, nan_guard, check and device != "numpy")
    if device == "cpu":
        program, sources = build_cpu_program(fgraph, inputs + shared, debug)
    elif device == "cuda":
        from runtime.cuda.function import CudaFunction, build_cuda_program

        program, sources = build_cuda_program(fgraph, inputs + shared, fast_math, profile, debug)
        options = {"fast_math": fast_math}
    elif debug is None:
        program = NumpyProgram(fgraph, inputs + shared)
    else:
        program = debug.program(NumpyProgram(fgraph, inputs + shared, debug.numpy_step))
    function = (CudaFunction if device == "cuda" else Function)(
        inputs,
        outputs,
        updates,
        fgraph,
        program,
        device,
        single,
        shared,
        rewrites=log.items(),
        profile=profile,
        sources=sources,
        trust_input=trust_input,
        borrow_outputs=borrow_outputs,
        specs=specs,
        name=name,
        **options,
    )
    function.nan_guard, function.check = nan_guard, check
    if donors and debug is None:
        function.use_donors(donors)
    return function
