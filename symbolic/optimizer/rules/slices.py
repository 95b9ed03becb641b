"""Gradients of slices: pieces added into zeros at slices that tile an axis are one join.

The gradient of z[:, :H], z[:, H:2H], … (an LSTM's gates) is a sum of inc_subtensor(zeros,
g_k, slice_k): each term allocates and fills a buffer of z's shape, and the sum reads them all.
When the slices tile one axis (constant bounds, adjacent, from 0 to the end), the sum is
concatenate(g_0, g_1, …): one buffer, each piece copied once.
"""

from __future__ import annotations

from symbolic.alloc import BroadcastTo, broadcast_to
from symbolic.elemwise import Elemwise, cast
from symbolic.graph import Constant, Variable
from symbolic.indexing import IncSubtensor, Subtensor
from symbolic.join import concatenate
from symbolic.optimizer.pattern import P, Rule
from symbolic.shape import shape_of

FULL = ("slice", None, None, None)


def _is_zeros(v: Variable) -> bool:
    if isinstance(v, Constant):
        return not v.data.any()
    node = v.owner
    return node is not None and isinstance(node.op, BroadcastTo) and _is_zeros(node.inputs[0])


def _terms(v: Variable) -> list[Variable]:
    """The summands of v's tree of additions."""
    node = v.owner
    if node is not None and isinstance(node.op, Elemwise) and node.op.name == "add":
        return [t for i in node.inputs for t in _terms(i)]
    return [v]


def _piece(term: Variable):
    """(zeros, value, axis, start, stop) for inc_subtensor(zeros, value, one constant slice)."""
    node = term.owner
    if node is None or not isinstance(node.op, IncSubtensor) or node.op.mode != "inc":
        return None
    zeros, value, *dynamic = node.inputs
    cut = [a for a, entry in enumerate(node.op.spec) if entry != FULL]
    if dynamic or len(cut) != 1 or not _is_zeros(zeros):
        return None
    entry = node.op.spec[cut[0]]
    if entry[0] != "slice":
        return None
    _, start, stop, step = entry
    start = 0 if start is None else start
    if step not in (None, 1) or start < 0 or (stop is not None and stop < 0):
        return None
    return zeros, value, cut[0], start, stop


def join_slice_gradients(z: Variable) -> Variable | None:
    pieces = [_piece(t) for t in _terms(z)]
    if len(pieces) < 2 or None in pieces:
        return None
    zeros, _, axis, _, _ = pieces[0]
    if any(p[0] is not zeros or p[2] != axis for p in pieces):
        return None
    pieces.sort(key=lambda p: p[3])
    bounds = [(p[3], p[4]) for p in pieces]
    if bounds[0][0] != 0 or bounds[-1][1] is not None:
        return None
    if any(stop != start for (_, stop), (start, _) in zip(bounds, bounds[1:])):
        return None
    parts = []
    for _, value, _, start, stop in pieces:
        spec = (FULL,) * axis + (("slice", start if start else None, stop, None),)
        shape = shape_of(Subtensor(spec)(zeros))  # a view of the zeros: no data is read
        parts.append(cast(broadcast_to(value, shape), zeros.dtype))
    return concatenate(parts, axis)


SLICES: list[Rule] = [
    Rule(
        "join_slice_gradients",
        P("add", name="z"),
        join_slice_gradients,
        "Σ_k inc_subtensor(0, g_k, x[..., a_k:a_{k+1}]) = concatenate(g_k) when the slices "
        "tile the axis from 0 to the end",
    ),
]
