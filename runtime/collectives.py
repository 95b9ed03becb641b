"""Collective scheduling, shared by every backend: a function's bucketable all-reduces become
a start and a wait per tensor (runtime/distributed/buckets.py), and its nodes are ordered so
that communication overlaps compute.

The order is Kahn's algorithm choosing among the ready nodes: a node without inputs first (a
value of the run, such as a mean's one_over_size), then a start (a tensor goes to
its bucket the moment it is computed), then the node with the fewest steps to some start (so
in the backward pass each layer's gradient is computed as soon as its error signal is, before
the error travels on: the earliest-ready gradients fill the first bucket), waits last (each
runs just before its first consumer needs it); ties keep the original order. Linear in nodes
and edges, times the log of the ready set.
"""

from __future__ import annotations

import heapq

from runtime.distributed.buckets import AllreduceStart, AllreduceWait, Buckets
from symbolic.distributed.ops import Allreduce
from symbolic.graph import Apply
from symbolic.optimizer.fgraph import FunctionGraph

# priority classes of the ready nodes: a node without inputs (a value of the run, such as
# one_over_size) first, so that none is left to run between the last start and the waits
LEAF, START, COMPUTE, WAIT = -1, 0, 1, 2


def plan_collectives(fgraph: FunctionGraph) -> FunctionGraph:
    """The graph with its bucketable all-reduces split and its nodes ordered for overlap;
    the graph itself where it has none. A graph split before (a pickled function's) is
    ordered again."""
    if any(_bucketable(node) for node in fgraph.nodes):
        fgraph = _split(fgraph)
    elif not any(isinstance(node.op, AllreduceStart) for node in fgraph.nodes):
        return fgraph
    fgraph.nodes = order_for_overlap(fgraph.nodes)
    starts = [node.op for node in fgraph.nodes if isinstance(node.op, AllreduceStart)]
    for buckets in {id(op.buckets): op.buckets for op in starts}.values():
        buckets.set_order([op.index for op in starts if op.buckets is buckets])
        buckets.compute_after_last_start = _compute_after_last_start(fgraph.nodes, buckets)
    return fgraph


def _compute_after_last_start(nodes: list[Apply], buckets: Buckets) -> bool:
    """Whether any node runs between the last start of `buckets` and the wait after it."""
    ours = [
        (k, isinstance(node.op, AllreduceStart))
        for k, node in enumerate(nodes)
        if isinstance(node.op, (AllreduceStart, AllreduceWait)) and node.op.buckets is buckets
    ]
    last_start = max(k for k, start in ours if start)
    first_wait = min((k for k, start in ours if k > last_start), default=len(nodes))
    return first_wait > last_start + 1


def _split(fgraph: FunctionGraph) -> FunctionGraph:
    """Each bucketable all-reduce replaced by a start and a wait per tensor."""
    buckets = Buckets(_where(fgraph))
    readers = _readers(fgraph)
    memo: dict[int, object] = {}
    for node in fgraph.nodes:
        inputs = [memo.get(id(i), i) for i in node.inputs]
        if _bucketable(node):
            outputs = []
            for x, original, y in zip(inputs, node.inputs, node.outputs):
                # a computed value no other node reads, not a result: the start may reduce
                # its memory in place
                may_take = original.owner is not None and readers[id(original)] == 1
                key = (node.op.reduce, x.dtype, node.op.bucket_bytes)
                index = buckets.add(key, may_take)
                (token,) = _built_at(AllreduceStart(buckets, index), [x], node)
                outputs += _built_at(AllreduceWait(buckets, index, y.type), [token], node)
        elif any(a is not b for a, b in zip(inputs, node.inputs)):
            outputs = _built_at(node.op, inputs, node)
        else:
            continue
        memo.update((id(old), new) for old, new in zip(node.outputs, outputs))
    outputs = [memo.get(id(o), o) for o in fgraph.outputs]
    return FunctionGraph(fgraph.inputs, outputs, fgraph.update_targets)


def _readers(fgraph: FunctionGraph) -> dict[int, int]:
    """Per variable id, how many times nodes read it; a result counts as one more reader."""
    readers: dict[int, int] = {}
    for v in [i for node in fgraph.nodes for i in node.inputs] + list(fgraph.outputs):
        readers[id(v)] = readers.get(id(v), 0) + 1
    return readers


def _bucketable(node: Apply) -> bool:
    return isinstance(node.op, Allreduce) and node.op.bucket_bytes > 0


def _built_at(op, inputs, original: Apply) -> list:
    """op applied to inputs, its node recorded as built where the user built `original`."""
    node = op.make_node(*inputs)
    node.location = original.location
    return list(node.outputs)


def _where(fgraph: FunctionGraph) -> str:
    for node in fgraph.nodes:
        if _bucketable(node) and node.location:
            return str(node.location)
    return "an unknown line"


def order_for_overlap(nodes: list[Apply]) -> list[Apply]:
    """`nodes` (in a topological order) reordered as the module docstring says."""
    position = {id(n): k for k, n in enumerate(nodes)}
    consumers: list[list[int]] = [[] for _ in nodes]
    waiting_on = [0] * len(nodes)
    for k, node in enumerate(nodes):
        producers = {position[id(i.owner)] for i in node.inputs if id(i.owner) in position}
        waiting_on[k] = len(producers)
        for p in producers:
            consumers[p].append(k)
    far = len(nodes) + 1
    steps_to_start = [far] * len(nodes)
    for k in reversed(range(len(nodes))):  # consumers come later: reverse order sees them first
        if isinstance(nodes[k].op, AllreduceStart):
            steps_to_start[k] = 0
        else:
            steps_to_start[k] = min((steps_to_start[c] + 1 for c in consumers[k]), default=far)

    def priority(k: int) -> tuple:
        op = nodes[k].op
        kind = (
            LEAF
            if not nodes[k].inputs
            else START
            if isinstance(op, AllreduceStart)
            else WAIT
            if isinstance(op, AllreduceWait)
            else COMPUTE
        )
        return kind, steps_to_start[k], k

    ready = [priority(k) for k in range(len(nodes)) if waiting_on[k] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        k = heapq.heappop(ready)[2]
        order.append(nodes[k])
        for c in consumers[k]:
            waiting_on[c] -= 1
            if waiting_on[c] == 0:
                heapq.heappush(ready, priority(c))
    return order
