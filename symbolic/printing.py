"""debugprint: an indented text tree of a graph, Theano-style.

Each node is printed with an id; a sub-tree met a second time is printed as its first line
only (ending in "···"), so shared sub-graphs appear once.
"""

from __future__ import annotations

import string
import sys

from symbolic.graph import Constant, SharedVariable, Variable


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


def _line(var: Variable, vid: str) -> str:
    if var.owner is not None:
        head = var.owner.op.name + (f"[{var.index}]" if len(var.owner.outputs) > 1 else "")
    elif isinstance(var, Constant):
        head = f"constant {var.data.tolist()!r}" if var.data.size <= 6 else "constant"
    else:
        head = "shared" if isinstance(var, SharedVariable) else "input"
    name = f" '{var.name}'" if var.name else ""
    return f"{head}{name} [id {vid}] {var.type}"


def render(roots: list[tuple[str | None, Variable]]) -> str:
    """The tree under each root, each after its heading (if any); ids run across all roots."""
    ids, labels, lines = _ids(), {}, []
    for heading, out in roots:
        if heading:
            lines.append(heading)
        stack = [(out, "", "")]  # (variable, prefix of its line, prefix of its children's)
        while stack:
            var, first, rest = stack.pop()
            seen = id(var) in labels
            if not seen:
                labels[id(var)] = next(ids)
            expand = var.owner is not None and not seen
            lines.append(
                first + _line(var, labels[id(var)]) + (" ···" if seen and var.owner else "")
            )
            if expand:
                children = var.owner.inputs
                for k in reversed(range(len(children))):
                    last = k == len(children) - 1
                    stack.append(
                        (
                            children[k],
                            rest + ("└─ " if last else "├─ "),
                            rest + ("   " if last else "│  "),
                        )
                    )
    return "\n".join(lines)


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
