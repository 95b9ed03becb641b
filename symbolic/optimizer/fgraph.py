"""The FunctionGraph: the outputs a function computes, their nodes in order, as networkx.

Like the nodes it holds, a FunctionGraph is never edited in place: `replace` returns a new one
in which the substituted variables' consumers are rebuilt, and nodes no output needs any more
are simply not part of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from symbolic.graph import Apply, Constant, SharedVariable, Variable, clone_replace, toposort

if TYPE_CHECKING:
    import networkx as nx


class FunctionGraph:
    """The nodes that compute `outputs` from `inputs` (plus constants and shared variables).

    The last `len(update_targets)` outputs are the new values of those shared variables.
    """

    def __init__(
        self,
        inputs: Sequence[Variable],
        outputs: Sequence[Variable],
        update_targets: Sequence[SharedVariable] = (),
    ):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.update_targets = list(update_targets)
        self.nodes: list[Apply] = toposort(self.outputs)
        self._clients: dict[int, list[tuple[Apply, int]]] | None = None

    def clients(self, var: Variable) -> list[tuple[Apply, int]]:
        """The (node, input position) pairs that read `var`, in topological order."""
        if self._clients is None:
            self._clients = {}
            for node in self.nodes:
                for position, i in enumerate(node.inputs):
                    self._clients.setdefault(id(i), []).append((node, position))
        return self._clients.get(id(var), [])

    def replace(self, mapping: dict) -> FunctionGraph:
        """A new graph with each `old` variable replaced by `new` everywhere (old → new)."""
        for old, new in mapping.items():
            if old.type.dtype != new.type.dtype or old.ndim != new.ndim:
                raise TypeError(f"cannot replace {old.describe()} by {new.describe()}")
        outputs = clone_replace(self.outputs, mapping)
        return FunctionGraph(self.inputs, outputs, self.update_targets)

    def variables(self) -> list[Variable]:
        """Every variable, inputs first, then in the order the nodes produce them."""
        seen, out = set(), []
        for v in (
            self.inputs + [v for n in self.nodes for v in (*n.inputs, *n.outputs)] + self.outputs
        ):
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out

    def to_networkx(self) -> nx.DiGraph:
        """Variables and operations as nodes; edges from inputs to ops and from ops to outputs.

        Operation nodes have `kind="op"` and `op` (the op's name); variable nodes have
        `kind="variable"`, `dtype`, `shape`, `name` and `role` (input, shared, constant, output
        or intermediate). Insertion order is deterministic.
        """
        import networkx as nx  # here: `import symbolic` does not pay for networkx

        graph = nx.DiGraph()
        inputs, outputs = {id(v) for v in self.inputs}, {id(v) for v in self.outputs}
        for v in self.variables():
            role = (
                "input"
                if id(v) in inputs
                else "shared"
                if isinstance(v, SharedVariable)
                else "constant"
                if isinstance(v, Constant)
                else "output"
                if id(v) in outputs
                else "intermediate"
            )
            graph.add_node(
                v, kind="variable", dtype=v.dtype, shape=v.type.shape, name=v.name, role=role
            )
        for node in self.nodes:
            graph.add_node(
                node,
                kind="op",
                op=node.op.name,
                location=str(node.location) if node.location else None,
            )
            for i, v in enumerate(node.inputs):
                graph.add_edge(v, node, position=i)
            for i, v in enumerate(node.outputs):
                graph.add_edge(node, v, position=i)
        return graph
