"""Pickling compiled functions: the graph as flat data, compiled again on load.

A Function pickles as its optimized graph (plus the graphs the user compiled, for `f.outputs`
and `f.updates`), its device and options. Loading compiles the optimized graph with the
optimizer off, so the generated C source is the same as before and its library is found in
the cache by content hash: no compiler runs where the cache already holds it.

The graph is written as a flat list of entries in topological order, never as nested objects,
so a graph 10,000 nodes deep pickles without exceeding Python's recursion limit:
- ("leaf", variable): an input, constant or shared variable, pickled as itself (its value
  by value), so every function of one pickle sees the same shared variables;
- ("node", op, input positions, output types, output names, location, member locations): an
  Apply node whose outputs take the next positions (pickles written before member locations
  existed end at the location).
"""

from __future__ import annotations

from symbolic.graph import Apply, Constant, Variable, toposort


def encode_graph(leaves: list[Variable], roots: list[Variable]) -> tuple[list, list[int]]:
    """(entries, the position of each root); `leaves` are listed first, used or not."""
    position: dict[int, int] = {}
    entries: list = []

    def add_leaf(v: Variable) -> None:
        if id(v) not in position:
            position[id(v)] = len(position)
            entries.append(("leaf", v))

    for v in leaves:
        add_leaf(v)
    for node in toposort(roots):
        for i in node.inputs:
            if i.owner is None:
                add_leaf(i)
        inputs = tuple(position[id(i)] for i in node.inputs)
        types = tuple(o.type for o in node.outputs)
        names = tuple(o.name for o in node.outputs)
        entries.append(
            ("node", node.op, inputs, types, names, node.location, node.member_locations)
        )
        for o in node.outputs:
            position[id(o)] = len(position)
    for v in roots:
        if v.owner is None:
            add_leaf(v)
    return entries, [position[id(v)] for v in roots]


def decode_graph(entries: list) -> list[Variable]:
    """Every variable of the entries, by position (the inverse of `encode_graph`)."""
    variables: list[Variable] = []
    for entry in entries:
        if entry[0] == "leaf":
            v = entry[1]
            if isinstance(v, Constant):
                v.data.setflags(write=False)  # unpickled arrays come back writeable
            variables.append(v)
            continue
        _, op, inputs, types, names, location, *members = entry
        node = Apply(op, [variables[i] for i in inputs], types)
        node.location, node.member_locations = location, tuple(*members)
        for o, name in zip(node.outputs, names):
            o.name = name
        variables.extend(node.outputs)
    return variables


def function_state(f) -> dict:
    """What `load_function` needs to build `f` again."""
    fgraph, user_targets = f.fgraph, [t for t, _ in f.updates]
    groups = [  # the roots, in groups whose positions the state records
        fgraph.inputs,
        fgraph.outputs[: len(fgraph.outputs) - len(fgraph.update_targets)],
        fgraph.outputs[len(fgraph.outputs) - len(fgraph.update_targets) :],
        f.outputs,
        [v for _, v in f.updates],
    ]
    leaves = [*fgraph.inputs, *fgraph.update_targets, *user_targets]
    entries, at = encode_graph(leaves, [v for group in groups for v in group])
    split = []
    for group in groups:
        split.append(at[: len(group)])
        at = at[len(group) :]
    inputs, outputs, update_values, user_outputs, user_values = split
    return {
        "graph": entries,
        "inputs": inputs,
        "outputs": outputs,
        "updates": list(zip(fgraph.update_targets, update_values)),
        "user_outputs": user_outputs,
        "user_updates": list(zip(user_targets, user_values)),
        "single": f._single,
        "device": f.device,
        "profile": f.profile is not None,
        "trust_input": f.trust_input,
        "borrow_outputs": f.borrow_outputs,
        "fast_math": getattr(f, "fast_math", False),
        "nan_guard": f.nan_guard,
        "check": f.check,
        "rewrites": list(f.rewrites),
        "name": f.name,
        "specs": [
            None if spec is None else (spec.value, spec.name, spec.allow_downcast)
            for spec in f.specs
        ],
    }


def load_function(state: dict):
    """The Function `state` describes, compiled again without the optimizer."""
    from symbolic.compiler import compile
    from symbolic.inputs import In

    variables = decode_graph(state["graph"])
    outputs = [variables[i] for i in state["outputs"]]
    updates = [(t, variables[i]) for t, i in state["updates"]]
    inputs = [variables[i] for i in state["inputs"]]
    specs = state.get("specs") or [None] * len(inputs)
    f = compile(
        [v if spec is None else In(v, *spec) for v, spec in zip(inputs, specs)],
        outputs[0] if state["single"] else outputs,
        updates=updates,
        device=state["device"],
        optimize=False,
        profile=state["profile"],
        trust_input=state["trust_input"],
        borrow_outputs=state.get("borrow_outputs", False),
        fast_math=state.get("fast_math", False),
        nan_guard=state.get("nan_guard", False),
        check=state.get("check", False),
        on_unused_input="ignore",  # as compiled before: its inputs were checked then
        name=state.get("name"),
    )
    f.outputs = [variables[i] for i in state["user_outputs"]]
    f.updates = [(t, variables[i]) for t, i in state["user_updates"]]
    f.rewrites = state["rewrites"]
    return f
