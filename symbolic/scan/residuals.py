"""The forward values a backward step reads, and how it gets each one (see grad.py).

Backward, a step needs forward values: gate activations, the states before the step, shapes
for sum_to. Each is free (the backward loop reads it anyway), rebuilt from other values (views,
broadcasts), a shape computed from input shapes (once before the loop, or per step), hoisted
(no step changes it), or stored by the forward loop as an extra stacked output (a residual).
"""

from __future__ import annotations

from symbolic.alloc import BroadcastTo
from symbolic.elemwise import Elemwise
from symbolic.graph import Constant, Variable, tensor
from symbolic.scan.parts import LoopParts, is_cheap
from symbolic.scan.shapes import shape_rule, size_rule
from symbolic.shape import DimShuffle, Reshape, Shape, shape_of

PER_STEP, FIXED, ADJOINT = 1, 2, 4  # what a value of the backward step depends on
# Recomputed by the backward step from their inputs rather than stored: they cost nothing
# (views) or make a larger value from a smaller one (broadcasts).
RECOMPUTED = (BroadcastTo, DimShuffle, Reshape)
# Elementwise arithmetic the backward step redoes on values stored anyway rather than store its
# result too: a few flops per element against writing and reading it back (tanh's gradient
# reads 1 − t·t where t = tanh(x) is stored for other uses: the same bits, one array fewer).
ARITHMETIC = frozenset({"add", "sub", "mul", "neg"})


class ForwardValues:
    """What the backward step uses for each forward value it reads (`value(v)`): v itself
    where it is free (what the backward loop reads anyway, constants, views of those); views
    and broadcasts rebuilt on their operands' values (zeros_like(z) needs only z's shape);
    shapes computed once before the loop when they follow from the inputs' shapes, else
    recomputed per step from their operands' shapes (shapes.py); else a placeholder for v,
    stored by the forward loop (`stored`) or, when no step changes it, computed once before
    the loop (`hoisted`: pairs of placeholder and outer value)."""

    def __init__(self, fwd: LoopParts, flags: dict, free: set, stored_anyway: set = frozenset()):
        """`stored_anyway`: ids of values a first pass stored (see `stored_values`);
        arithmetic on those alone is recomputed instead of stored."""
        self.fwd, self.flags, self.free, self.memo = fwd, flags, free, {}
        self.stored_anyway, self.recomputable = stored_anyway, {}
        self.outer_memo: dict = {}  # inner → outer values, shared by every hoist (linear)
        self.outer_values: dict[int, tuple] = {}  # id(v) → (v, what `outside` found for v)
        self.shapes: dict[int, Variable] = {}
        self.stored: list[tuple[Variable, Variable]] = []
        self.hoisted: list[tuple[Variable, Variable]] = []
        # the shape of each inner input, computed outside the loop
        self.outer_shapes = {id(v): shape_of(x) for v, x in zip(fwd.states, fwd.initials)}
        self.outer_shapes.update(
            (id(v), shape_of(x)[1:]) for v, x in zip(fwd.slices, fwd.sequences)
        )
        self.outer_shapes.update((id(v), shape_of(x)) for v, x in zip(fwd.fixed, fwd.outer_fixed))

    def flag(self, v: Variable) -> int:
        """What v depends on; for a value built here, what its operands depend on."""
        if id(v) not in self.flags:
            self.flags[id(v)] = 0
            for i in v.owner.inputs if v.owner is not None else ():
                self.flags[id(v)] |= self.flag(i)
        return self.flags[id(v)]

    def shape(self, x: Variable) -> Variable:
        """The shape node of x, one per x."""
        if id(x) not in self.shapes:
            self.shapes[id(x)] = shape_of(x)
        return self.shapes[id(x)]

    def value(self, v: Variable) -> Variable:
        node = v.owner  # shape(x) is resolved once per x, however many shape nodes read x
        key = ("shape", id(node.inputs[0])) if node and isinstance(node.op, Shape) else id(v)
        if key not in self.memo:
            self.memo[key] = self._resolve(v)
        return self.memo[key]

    def _resolve(self, v: Variable) -> Variable:
        if is_cheap(v, self.free):
            return v
        node = v.owner
        if node is not None and (isinstance(node.op, RECOMPUTED) or self.is_arithmetic(v)):
            return _rebuilt(node, [self.value(i) for i in node.inputs]).outputs[v.index]
        outer = self.outside(v)
        if outer is not None:
            return self._hoist(v, outer)
        rule = self.shape_rule(v)
        if rule is not None:
            op, reads = rule
            return _rebuilt(node, [self.value(i) for i in reads], op).outputs[0]
        if not self.flag(v) & PER_STEP:
            return self._hoist(v, self.fwd.outer_of_invariants([v], self.outer_memo)[0])
        inner = tensor(f"residual{len(self.stored)}[t]", v.dtype, v.type.shape)
        self.stored.append((v, inner))
        return inner

    def is_arithmetic(self, v: Variable) -> bool:
        """v is ARITHMETIC on values that are stored anyway, free, or not per-step (hoisted),
        or on such arithmetic: recomputing it stores nothing new. Memoized, iterative."""
        stack = [v]
        while stack:
            u = stack[-1]
            if id(u) in self.recomputable:
                stack.pop()
                continue
            node = u.owner
            if not (node and isinstance(node.op, Elemwise) and node.op.name in ARITHMETIC):
                self.recomputable[id(u)] = False
                stack.pop()
                continue
            pending = [i for i in node.inputs if not self._at_hand(i)]
            missing = [i for i in pending if id(i) not in self.recomputable]
            if missing:
                stack.extend(missing)
                continue
            self.recomputable[id(u)] = all(self.recomputable[id(i)] for i in pending)
            stack.pop()
        return self.recomputable[id(v)]

    def _at_hand(self, v: Variable) -> bool:
        return id(v) in self.stored_anyway or is_cheap(v, self.free) or not self.flag(v) & PER_STEP

    def shape_rule(self, v: Variable):
        """For v = shape(x) or size(x): (op, what it reads) computing it from x's operands."""
        node = v.owner
        if node is not None and isinstance(node.op, Shape):
            return shape_rule(node.inputs[0], self.shape)
        return size_rule(v, self.shape)

    def outside(self, v: Variable) -> Variable | None:
        """v computed before the loop, when it is a shape or size that depends on the shapes
        of the loop's inputs only (they are the same at every step: rows of one sequence,
        states as checked, non-sequences), or on values no step changes; else None. Each
        value is resolved once (shapes of shapes share operands: a ladder's would otherwise
        take exponential time), iteratively (steps can be thousands of nodes deep)."""
        stack = [v]
        while stack:
            u = stack[-1]
            if id(u) in self.outer_values:
                stack.pop()
                continue
            rule = self._outside_rule(u)
            if not isinstance(rule, tuple):
                self.outer_values[id(u)] = (u, rule)  # the key is kept alive with its value
                stack.pop()
                continue
            op, reads = rule
            missing = [i for i in reads if id(i) not in self.outer_values]
            if missing:
                stack.extend(missing)
                continue
            outer = [self.outer_values[id(i)][1] for i in reads]
            known = all(o is not None for o in outer)
            self.outer_values[id(u)] = (u, op.make_node(*outer).outputs[0] if known else None)
            stack.pop()
        return self.outer_values[id(v)][1]

    def _outside_rule(self, v: Variable):
        """v's outer value (or None) when it is known directly, else the shape rule (op,
        what it reads) that computes it from other values."""
        if isinstance(v, Constant):
            return v
        node = v.owner
        if not self.flag(v) & (PER_STEP | ADJOINT):
            return self.fwd.outer_of_invariants([v], self.outer_memo)[0]
        if node is not None and isinstance(node.op, Shape) and node.inputs[0].owner is None:
            return self.outer_shapes.get(id(node.inputs[0]))
        return self.shape_rule(v) if node is not None else None

    def _hoist(self, v: Variable, outer: Variable) -> Variable:
        inner = tensor(v.name, v.dtype, v.type.shape)
        self.hoisted.append((inner, outer))
        return inner


def stored_values(fwd: LoopParts, flags: dict, free: set, edge: list[Variable]) -> ForwardValues:
    """The ForwardValues of the backward step's `edge`, in two passes: the first finds what must
    be stored; the second stores those and recomputes arithmetic on them (ARITHMETIC)."""
    first = ForwardValues(fwd, flags, free)
    for v in edge:
        first.value(v)
    return ForwardValues(fwd, flags, free, {id(v) for v, _ in first.stored})


def _rebuilt(node, inputs: list[Variable], op=None):
    """node's op (or `op`) applied to `inputs`, remembering where the user built node."""
    new = (op or node.op).make_node(*inputs)
    new.location = node.location
    return new
