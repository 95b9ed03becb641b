"""debugprint: an indented text tree of a graph, Theano-style.

Each node is printed with an id; a sub-tree met a second time is printed as its first line
only (ending in "···"), so shared sub-graphs appear once (a node of several outputs prints
its inputs under the first of its outputs met). A scan's inner graph follows the trees.
Indentation stops at MAX_DEPTH levels: a deeper sub-tree is printed after the trees, under
"continued from [id X]:", so the text stays linear in the graph's size even for a chain of
10,000 nodes (indenting it fully would take 10,000²·3/2 characters).
"""

from __future__ import annotations

import string
import sys

from symbolic.graph import Constant, SharedVariable, Variable

MAX_DEPTH = 32  # levels of indentation (3 columns each) before a sub-tree is continued below


def _ids():
    """A, B, …, Z, AA, AB, …"""
    letters = string.ascii_uppercase
    n = 0
    while True:
        label, k = "", n
        while True:
            label = letters[k % 26] + label
            k = k // 26 - 1
            if k < 0:
                break
        yield label
        n += 1


def variable_line(var: Variable, vid: str | None) -> str:
    """The line debugprint prints for `var`, whose id is `vid` (None: a line without id)."""
    if var.owner is not None:
        head = var.owner.op.name + (f"[{var.index}]" if len(var.owner.outputs) > 1 else "")
    elif isinstance(var, Constant):
        head = f"constant {var.data.tolist()!r}" if var.data.size <= 6 else "constant"
    else:
        head = "shared" if isinstance(var, SharedVariable) else "input"
    name = f" '{var.name}'" if var.name else ""
    return f"{head}{name}{f' [id {vid}]' if vid else ''} {var.type}"


def render(roots: list[tuple[str | None, Variable]]) -> str:
    """The tree under each root, each after its heading (if any); ids run across all roots.
    A node with an inner graph (a scan) is followed, after all roots, by its inner graph."""
    return "\n".join(_print(roots).lines)


def node_labels(outputs: list[Variable]) -> dict[int, str]:
    """id(variable) → its id in debugprint's trees of `outputs` (inner graphs included)."""
    return _print([(None, v) for v in outputs]).labels


def _print(roots: list[tuple[str | None, Variable]]) -> _Printer:
    printer = _Printer()
    for heading, out in roots:
        printer.tree(out, heading)
    printer.continue_deep_parts()
    for node, label in printer.loops:  # grows while nested loops are met
        printer.lines.append(
            f"inner graph of {node.op.name} [id {label}], {node.op.describe_step()}:"
        )
        for heading, out in node.op.inner_roots():
            printer.tree(out, heading)
        printer.continue_deep_parts()
    return printer


class _Printer:
    def __init__(self):
        self.ids, self.labels, self.lines = _ids(), {}, []
        self.expanded: set[int] = set()  # nodes whose inputs are printed (once per node)
        self.loops: list = []  # (node, label) of the nodes with an inner graph met so far
        self.continued: list[Variable] = []  # sub-trees too deep to indent, printed later

    def continue_deep_parts(self) -> None:
        """Each sub-tree left too deep to indent, from the left margin, in the order met."""
        for var in self.continued:  # grows while deeper parts are met
            self.tree(var, f"continued from [id {self.labels[id(var)]}]:")
        self.continued.clear()

    def tree(self, out: Variable, heading: str | None) -> None:
        if heading:
            self.lines.append(heading)
        stack = [(out, "", "")]  # (variable, prefix of its line, prefix of its children's)
        while stack:
            var, first, rest = stack.pop()
            if id(var) not in self.labels:
                self.labels[id(var)] = next(self.ids)
            node = var.owner
            expand = node is not None and id(node) not in self.expanded
            deep = expand and len(rest) >= 3 * MAX_DEPTH
            more = (
                " ···" if node is not None and not expand else " (continued below)" if deep else ""
            )
            self.lines.append(first + variable_line(var, self.labels[id(var)]) + more)
            if deep:
                self.continued.append(var)
            if not expand or deep:
                continue
            self.expanded.add(id(node))
            if hasattr(node.op, "inner_roots"):
                self.loops.append((node, self.labels[id(var)]))
            for k in reversed(range(len(node.inputs))):
                last = k == len(node.inputs) - 1
                stack.append(
                    (
                        node.inputs[k],
                        rest + ("└─ " if last else "├─ "),
                        rest + ("   " if last else "│  "),
                    )
                )


def debugprint(obj, file=None) -> str:
    """Print (and return) an indented tree of a variable, a list of them, or a compiled
    function's optimized graph (its outputs, then each update as `target <- expression`).

    `file`: a writable stream (default sys.stdout), or "str" to only return the text.
    """
    if hasattr(obj, "fgraph"):
        n = len(obj.outputs)
        values = obj.fgraph.outputs
        roots = [(None, v) for v in values[:n]] + [
            (f"update {target.name or 'shared'} <-", v)
            for (target, _), v in zip(obj.updates, values[n:])
        ]
    else:
        roots = [(None, v) for v in (obj if isinstance(obj, (list, tuple)) else [obj])]
    text = render(roots)
    if file != "str":
        print(text, file=file or sys.stdout)
    return text
