"""compile(inputs, outputs, updates): from symbolic graphs to a callable Function."""

from __future__ import annotations

from symbolic.graph import (
    Constant,
    SharedVariable,
    Variable,
    as_variable,
    clone_replace,
    graph_inputs,
    toposort,
)
from symbolic.optimizer.fgraph import FunctionGraph
from symbolic.optimizer.phases import optimize_graph
from symbolic.optimizer.rewriter import RewriteLog

DEVICES = ("auto", "numpy", "cpu", "cuda")


def _pairs(mapping, what: str) -> list[tuple]:
    if mapping is None:
        return []
    items = list(mapping.items()) if isinstance(mapping, dict) else list(mapping)
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"{what} must be a dict or a list of (variable, expression) pairs")
    return items


def _check_inputs(inputs) -> list[Variable]:
    inputs = [inputs] if isinstance(inputs, Variable) else list(inputs)
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
):
    """Compile a function from `inputs` to `outputs`, applying `updates` after each call.

    Parameters
    ----------
    inputs : list of symbolic inputs, in call order.
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
    """
    from runtime.cpu_backend import build_cpu_program
    from runtime.debug_modes import DebugModes
    from runtime.function import Function
    from runtime.numpy_backend import NumpyProgram

    inputs = _check_inputs(inputs)
    single = not isinstance(outputs, (list, tuple))
    outputs = [as_variable(o) for o in ([outputs] if single else outputs)]
    updates = check_updates(updates)
    updates = _with_default_updates(updates, outputs + [v for _, v in updates])
    expressions = _substitute(givens, outputs + [v for _, v in updates])
    input_ids = {id(v) for v in inputs}
    for leaf in graph_inputs(expressions):
        if id(leaf) not in input_ids and not isinstance(leaf, (Constant, SharedVariable)):
            raise ValueError(
                f"the outputs depend on {leaf.describe()}, which is not among "
                "the inputs of compile (nor a shared variable or constant)"
            )
    device = _resolve_device(device)
    log = RewriteLog()
    if optimize:
        expressions = optimize_graph(expressions, log)
    fgraph = FunctionGraph(inputs, expressions, [t for t, _ in updates])
    if device != "cuda":  # host buffers: all-reduces bucketed over MPI, overlapped with compute
        from runtime.collectives import plan_collectives

        fgraph = plan_collectives(fgraph)
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
        **options,
    )
    function.nan_guard, function.check = nan_guard, check
    return function
