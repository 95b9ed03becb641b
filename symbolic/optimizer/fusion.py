"""Elementwise fusion: convex groups of elementwise nodes become one `FusedElemwise` node.

Grouping. Nodes are visited in topological order; an elementwise node (`Elemwise` or `Cast`)
joins the groups of the elementwise nodes that produce its inputs, one after another, whenever
the union stays
- convex: no path leaves the group and comes back in. With anc(G) and desc(G) the unions of the
  members' strict ancestors and descendants, G is convex iff anc(G) ∩ desc(G) ⊆ G. A node on
  such a path lies between two members in the topological order, so the check only needs
  ancestors and descendants within a window of WINDOW positions: a group spans at most WINDOW
  positions (a larger one is split there), each node keeps its ancestors among the WINDOW
  positions before it and its descendants among the WINDOW after it, as Python ints used as
  bitsets. A check is a few big-int ANDs/ORs, and a pass takes time and memory linear in the
  node count (times a word per 64 positions of the window), with no recursion. Whole bitsets
  (positions 0..n) would cost n² bits: 200 MB for the gradient of a 10,000-node ladder;
- within the kernel-argument budget: inputs + outputs ≤ MAX_KERNEL_ARGS (0-d constants are
  inlined and cost nothing); a group that would exceed it is split there;
- of one iteration space: every group output (a member read outside the group or a graph
  output) has the same rank and the same static broadcastable axes. A member of a smaller shape
  (exp(b) of a column vector b feeding an (N, M) add) is fused when only the group reads it: a
  kernel recomputes it per element, which is cheap next to a round trip through memory; if it is
  also read outside the group, it is not fused into the bigger group.

Siblings. Then groups (and lone elementwise nodes) that read one variable merge under the same
three conditions, where the variable has their iteration space (the shape class of their
outputs): they need not feed each other. The gate kernel of an LSTM step and the sigmoid(−z)
terms of its gradient read the same slices z; apart they cost a launch and a pass over z each,
together neither, and the C compiler shares exp(−|z|) between σ(z) and σ(−z). Cost model: a
merge adds no memory traffic (each output is written once either way, a shared input is read
once instead of once per kernel), so it saves a launch and a read of the shared input. It is
not tried where it could cost:
- a shared input of a smaller class (a scalar, a bias) does not tie the outputs' shapes:
  x·s and y·s may differ at run time, and a kernel whose outputs differ in shape runs the
  node's NumPy reference instead;
- a reduction's prologue (below) stays one: a sibling would give it a second output, stored
  where FusedReduce stores nothing;
- a group that feeds a collective (an all-reduce) takes no sibling: the sibling's work would
  run before the communication starts instead of while it is in flight.
Nodes are walked in topological order; each (node, input) edge tries one merge, with the group
of the input's leader: its first reader, or the last one whose merge was refused (so a full
group does not keep later readers apart). The walk is linear in nodes + edges, deterministic.

Mutual dependencies. Each group is convex, yet two groups can still need each other:
G1 = {a, d} and G2 = {c, b} with a → sum → b and c → sum → d. Fused units on a cycle of the
unit graph go back to single nodes, the smallest first, until the unit graph is acyclic; a graph
without such cycles keeps all its groups.

Reduction prologues. A group (or a lone elementwise node) whose only output is read only by a
reduction (sum, prod, max, min, logsumexp) becomes that reduction's prologue: one `FusedReduce`
node, so sum(exp(x − m)) is one kernel. A lone elementwise node with no fusable neighbour stays
as it is. Everything is deterministic: the same graph gives the same nodes in the same order.

Rebuilding. The units are built in one topological order of the unit graph (Kahn's algorithm),
each exactly once: the work is linear in nodes + edges however much the graph shares.
"""

from __future__ import annotations

from symbolic.elemwise import Cast, Elemwise
from symbolic.fused import FusedElemwise, FusedReduce, Ref, Step
from symbolic.graph import Apply, Constant, Variable, toposort
from symbolic.optimizer.rewriter import RewriteLog
from symbolic.reduction import LogSumExp, Reduce

MAX_KERNEL_ARGS = 64  # inputs + outputs of one fused kernel
WINDOW = 2048  # topological positions one group may span; graphs this small are not limited
PROLOGUE_REDUCTIONS = ("sum", "prod", "max", "min", "logsumexp")
SINGLE_SPLITS = 4  # mutually dependent units split one at a time before all the rest at once


def is_elementwise(node: Apply) -> bool:
    return isinstance(node.op, (Elemwise, Cast))


def is_inlined(var: Variable) -> bool:
    """0-d constants become literals of the fused program, not kernel arguments."""
    return isinstance(var, Constant) and var.data.ndim == 0


def space_of(var: Variable) -> tuple:
    """A variable's shape class: its rank and which axes are statically broadcastable."""
    shape = var.type.shape
    return (len(shape), tuple(d == 1 for d in shape))


def _takes_prologue(node: Apply) -> bool:
    op = node.op
    return isinstance(op, LogSumExp) or (isinstance(op, Reduce) and op.kind in PROLOGUE_REDUCTIONS)


class _Group:
    __slots__ = ("members", "low", "high", "base", "mask", "anc", "desc", "inputs", "exposed")

    def __init__(self, members, low, high, base, mask, anc, desc, inputs, exposed):
        self.members = members  # topological positions (unordered until built)
        self.low, self.high = low, high  # the first and last member's positions
        # Bitsets whose bit j stands for position base + j, base = max(0, low - WINDOW): the
        # members, the union of their windowed strict ancestors, and of their descendants.
        self.base, self.mask, self.anc, self.desc = base, mask, anc, desc
        self.inputs = inputs  # id(variable) -> variable read from outside (no inlined constants)
        self.exposed = exposed  # members read outside the group (or graph outputs)


def _anc_base(i: int) -> int:
    """The first position of node i's ancestor window."""
    return max(0, i - WINDOW)


class _Grouper:
    """Finds the groups; positions are indices into the topological order `nodes`."""

    def __init__(self, outputs: list[Variable]):
        self.nodes = nodes = toposort(outputs)
        self.pos = {id(n): i for i, n in enumerate(nodes)}
        self.is_output = [False] * len(nodes)
        for o in outputs:
            if o.owner is not None:
                self.is_output[self.pos[id(o.owner)]] = True
        self.producers: list[list[int]] = []  # per node, positions of its inputs' owners
        self.consumers: list[list[int]] = [[] for _ in nodes]
        for i, node in enumerate(nodes):
            ps = [self.pos[id(v.owner)] for v in node.inputs if v.owner is not None]
            self.producers.append(ps)
            for p in ps:
                self.consumers[p].append(i)
        # anc[i]: bit j is position anc_base(i) + j, an ancestor of i at most WINDOW before it;
        # desc[i]: bit j is position i + 1 + j, a descendant of i at most WINDOW after it.
        full = (1 << WINDOW) - 1
        self.anc = [0] * len(nodes)
        for i, ps in enumerate(self.producers):
            a, base = 0, _anc_base(i)
            for p in ps:
                if i - p <= WINDOW:  # p's window starts no later than i's: shift it down
                    a |= (self.anc[p] >> (base - _anc_base(p))) | (1 << (p - base))
            self.anc[i] = a
        self.desc = [0] * len(nodes)
        for i in range(len(nodes) - 1, -1, -1):
            d = 0
            for c in self.consumers[i]:
                if c - i <= WINDOW:
                    d |= (self.desc[c] << (c - i)) | (1 << (c - i - 1))
            self.desc[i] = d & full
        self.group_of: list[_Group | None] = [None] * len(nodes)
        self.sibling_merges = 0

    def shape_class(self, i: int) -> tuple:
        return space_of(self.nodes[i].outputs[0])

    def space(self, group: _Group) -> tuple:
        """The iteration space of the group: the shape class its outputs share."""
        return self.shape_class(min(group.exposed))

    def _escapes(self, i: int, inside) -> bool:
        return self.is_output[i] or any(self.group_of[c] not in inside for c in self.consumers[i])

    def _single(self, i: int) -> _Group:
        node = self.nodes[i]
        inputs = {id(v): v for v in node.inputs if not is_inlined(v)}
        base = _anc_base(i)  # the group's frame starts where i's ancestor window does
        desc = self.desc[i] << (i + 1 - base)
        group = _Group([i], i, i, base, 1 << (i - base), self.anc[i], desc, inputs, {i})
        self.group_of[i] = group
        return group

    def _try_merge(self, a: _Group, b: _Group) -> _Group | None:
        """a ∪ b when it is convex, within budget and of one iteration space, else None."""
        low, high = min(a.low, b.low), max(a.high, b.high)
        if high - low > WINDOW:
            return None  # the windowed bitsets could not see a path through the union
        base = _anc_base(low)  # both frames start at or after it: shift them up to it
        sa, sb = a.base - base, b.base - base
        mask = (a.mask << sa) | (b.mask << sb)
        anc, desc = (a.anc << sa) | (b.anc << sb), (a.desc << sa) | (b.desc << sb)
        if anc & desc & ~mask:
            return None  # a path leaves the union and comes back in
        inside = (a, b)
        inputs = {
            k: v
            for k, v in (*a.inputs.items(), *b.inputs.items())
            if v.owner is None or self.group_of[self.pos[id(v.owner)]] not in inside
        }
        exposed = {i for i in (*a.exposed, *b.exposed) if self._escapes(i, inside)}
        if len(inputs) + len(exposed) > MAX_KERNEL_ARGS:
            return None
        if len({self.shape_class(i) for i in exposed}) > 1:
            return None
        big, small = (a, b) if len(a.members) >= len(b.members) else (b, a)
        for i in small.members:
            self.group_of[i] = big
        big.members.extend(small.members)
        big.low, big.high, big.base, big.mask, big.anc, big.desc = low, high, base, mask, anc, desc
        big.inputs, big.exposed = inputs, exposed
        return big

    def prologue_reader(self, group: _Group) -> int | None:
        """The position of the reduction that reads the group's only output, when nothing else
        reads it: the group is then that reduction's prologue."""
        out = min(group.exposed)
        clients = self.consumers[out]
        sole_reader = (
            len(group.exposed) == 1
            and not self.is_output[out]
            and len(clients) == 1
            and _takes_prologue(self.nodes[clients[0]])
        )
        return clients[0] if sole_reader else None

    def _kept_from_siblings(self, group: _Group) -> bool:
        """Whether the group is a reduction's prologue or feeds a collective (see the module
        docstring)."""
        if self.prologue_reader(group) is not None:
            return True
        return any(
            getattr(self.nodes[c].op, "communicates", False)
            for i in group.exposed
            for c in self.consumers[i]
        )

    def _merge_siblings(self) -> None:
        """Merge groups that read one variable of their own iteration space (see the module
        docstring): one merge tried per (node, input) edge, with the input's leader's group."""
        groups = {id(g): g for g in self.group_of if g is not None}.values()
        apart = {g for g in groups if self._kept_from_siblings(g)}
        leader: dict[int, int] = {}  # id(variable) -> position of its leader
        for i, node in enumerate(self.nodes):
            if not is_elementwise(node):
                continue
            for v in node.inputs:
                group = self.group_of[i]
                if group in apart or is_inlined(v) or self.space(group) != space_of(v):
                    continue
                j = leader.setdefault(id(v), i)
                other = self.group_of[j]
                if other is group:
                    continue
                if self._try_merge(other, group) is None:
                    leader[id(v)] = i
                else:
                    self.sibling_merges += 1

    def groups(self) -> list[_Group]:
        """The groups, each listed once, in the order of their first member."""
        for i, node in enumerate(self.nodes):
            if not is_elementwise(node):
                continue
            group = self._single(i)
            for p in self.producers[i]:
                other = self.group_of[p]
                if other is not None and other is not group:
                    group = self._try_merge(group, other) or group
        self._merge_siblings()
        seen, out = set(), []
        for g in self.group_of:
            if g is not None and id(g) not in seen:
                seen.add(id(g))
                g.members.sort()
                out.append(g)
        return out


class _Unit:
    """What the rebuilt graph computes as one node: a plain node, a fused group, or a fused
    group ending in a reduction (`reduce` is then the reduction's position)."""

    __slots__ = ("members", "kind", "reduce")

    def __init__(self, members: list[int], kind: str, reduce: int | None = None):
        self.members, self.kind, self.reduce = members, kind, reduce


def _units(grouper: _Grouper, log: RewriteLog) -> list[_Unit]:
    """The unit of each node position."""
    unit_of = [None] * len(grouper.nodes)
    for group in grouper.groups():
        reader = grouper.prologue_reader(group)
        if reader is not None:
            unit = _Unit(group.members + [reader], "reduce", reader)
        elif len(group.members) > 1:
            unit = _Unit(group.members, "fused")
        else:
            continue
        for i in unit.members:
            unit_of[i] = unit
    for _ in range(grouper.sibling_merges):
        log.record("fuse_siblings")
    for i in range(len(unit_of)):
        if unit_of[i] is None:
            unit_of[i] = _Unit([i], "node")
    _split_mutual_dependencies(grouper, unit_of, log)
    for unit in _distinct(unit_of):
        if unit.kind != "node":
            log.record("fuse_reduce_prologue" if unit.kind == "reduce" else "fuse_elemwise")
    return unit_of


def _distinct(unit_of: list[_Unit]) -> list[_Unit]:
    """Each unit once, in the order of its first member."""
    return list({id(u): u for u in unit_of}.values())


def _reads(grouper: _Grouper, unit_of: list[_Unit], units: list[_Unit]) -> list[list[int]]:
    """For each unit (by index into `units`), the indices of the other units it reads."""
    index = {id(u): k for k, u in enumerate(units)}
    reads: list[dict[int, None]] = [{} for _ in units]
    for i, producers in enumerate(grouper.producers):
        k = index[id(unit_of[i])]
        for p in producers:
            j = index[id(unit_of[p])]
            if j != k:
                reads[k][j] = None
    return [list(r) for r in reads]


def _reversed(edges: list[list[int]]) -> list[list[int]]:
    """The same edges pointing the other way."""
    back: list[list[int]] = [[] for _ in edges]
    for k, targets in enumerate(edges):
        for j in targets:
            back[j].append(k)
    return back


def _topological(reads: list[list[int]]) -> tuple[list[int], list[int]]:
    """Kahn's algorithm over units: (an order with each unit after those it reads, the units
    left out because they lie on or after a cycle). Linear in units + edges."""
    waiting, readers = [len(r) for r in reads], _reversed(reads)
    order = [k for k, w in enumerate(waiting) if w == 0]
    for k in order:  # grows while it is walked: each unit is appended once
        for reader in readers[k]:
            waiting[reader] -= 1
            if waiting[reader] == 0:
                order.append(reader)
    done = set(order)
    return order, [k for k in range(len(reads)) if k not in done]


def _split_mutual_dependencies(grouper: _Grouper, unit_of: list[_Unit], log: RewriteLog):
    """Unfuse units that depend on each other (see the module docstring). The fused units
    that Kahn's algorithm leaves over both forwards and backwards lie on a cycle of the unit
    graph or between two. The smallest of them goes back to single nodes, and the graph is
    checked again, up to SINGLE_SPLITS times (most cycles need one or two); then all that are
    left go at once, which leaves the unit graph acyclic: every cycle lies inside that set and
    becomes single nodes of the original graph. So the work stays linear."""
    for attempt in range(SINGLE_SPLITS + 1):
        units = _distinct(unit_of)
        reads = _reads(grouper, unit_of, units)
        _, after_cycle = _topological(reads)
        if not after_cycle:
            return
        _, before_cycle = _topological(_reversed(reads))
        tangled = [units[k] for k in sorted(set(after_cycle) & set(before_cycle))]
        tangled = [u for u in tangled if u.kind != "node"]
        if attempt < SINGLE_SPLITS:
            tangled = [min(tangled, key=lambda u: (len(u.members), u.members[0]))]
        for unit in tangled:
            log.record("fuse_split_mutual_dependency")
            for i in unit.members:
                unit_of[i] = _Unit([i], "node")


def _locations(nodes: list[Apply], members: list[int]) -> tuple:
    """Where the user built the members of a fused node: each distinct location once."""
    return tuple(dict.fromkeys(nodes[m].location for m in members if nodes[m].location))


def _program(nodes: list[Apply], members: list[int], outputs: list[int]):
    """(the FusedElemwise op, its input variables) for the member positions (sorted)."""
    step_of = {m: k for k, m in enumerate(members)}
    pos = {id(nodes[m]): m for m in members}
    inputs: dict[int, tuple[int, Variable]] = {}
    constants: dict[tuple, int] = {}
    steps = []
    for m in members:
        args = []
        for v in nodes[m].inputs:
            if v.owner is not None and id(v.owner) in pos:
                args.append(Ref("s", step_of[pos[id(v.owner)]]))
            elif is_inlined(v):
                key = (v.dtype, v.data.tobytes())
                args.append(Ref("c", constants.setdefault(key, len(constants))))
            else:
                index, _ = inputs.setdefault(id(v), (len(inputs), v))
                args.append(Ref("x", index))
        steps.append(Step(nodes[m].op, tuple(args)))
    variables = [v for _, v in inputs.values()]
    op = FusedElemwise(
        tuple(v.dtype for v in variables),
        tuple(constants),
        tuple(steps),
        tuple(step_of[m] for m in outputs),
    )
    return op, variables


def fuse(outputs: list[Variable], log: RewriteLog) -> list[Variable]:
    """The outputs computed with fused nodes (see the module docstring)."""
    grouper = _Grouper(list(outputs))
    unit_of = _units(grouper, log)
    units = _distinct(unit_of)
    order, cyclic = _topological(_reads(grouper, unit_of, units))
    if cyclic:  # _units splits every cycle; this guards the loop below, never hit
        raise RuntimeError(f"fusion left {len(cyclic)} units depending on each other")
    memo: dict[int, Variable] = {}
    for k in order:  # each unit once, after the units it reads: no stack, no recursion
        _build(units[k], grouper, unit_of, memo)
    return [memo.get(id(o), o) for o in outputs]


def _build(unit: _Unit, grouper: _Grouper, unit_of: list[_Unit], memo: dict) -> None:
    nodes = grouper.nodes
    if unit.kind == "node":
        node = nodes[unit.members[0]]
        inputs = [memo.get(id(v), v) for v in node.inputs]
        if any(a is not b for a, b in zip(inputs, node.inputs)):
            new = node.op.make_node(*inputs)
            new.location = node.location
            node = new
        for old, new in zip(nodes[unit.members[0]].outputs, node.outputs):
            memo[id(old)] = new
        return
    if unit.kind == "reduce":
        members = [m for m in unit.members if m != unit.reduce]
        (out,) = [m for m in members if unit.reduce in grouper.consumers[m]]
        op, variables = _program(nodes, members, [out])
        reduction = nodes[unit.reduce]
        new = FusedReduce(op, reduction.op).make_node(*[memo.get(id(v), v) for v in variables])
        new.location = reduction.location
        new.member_locations = _locations(nodes, unit.members)
        memo[id(reduction.outputs[0])] = new.outputs[0]
        return
    exposed = [
        m
        for m in unit.members
        if grouper.is_output[m] or any(unit_of[c] is not unit for c in grouper.consumers[m])
    ]
    op, variables = _program(nodes, unit.members, exposed)
    new = op.make_node(*[memo.get(id(v), v) for v in variables])
    new.location = nodes[unit.members[-1]].location
    new.member_locations = _locations(nodes, unit.members)
    for m, out in zip(exposed, new.outputs):
        memo[id(nodes[m].outputs[0])] = out
