"""The runtime's errors: a compiler's rejection of a source, and errors raised while running a
graph, which name the op, the shapes and dtypes, and the user's line."""

from __future__ import annotations

from pathlib import Path


class CompileError(RuntimeError):
    """A compiler (the C compiler, nvcc) rejected a source; the message has its output and the
    source's path."""

    def __init__(self, message: str, source_path: Path, output: str = ""):
        super().__init__(message)
        self.source_path = source_path
        self.output = output


def describe_node(node, arrays=None) -> str:
    shown = ", ".join(
        f"{a.dtype}{list(a.shape)}" if hasattr(a, "shape") else repr(a) for a in arrays or ()
    )
    where = f"\n  the node was built at {node.location}" if node.location else ""
    return f"{node.op.name} on inputs ({shown}){where}"


def node_error(node, arrays, error: Exception) -> Exception:
    """An exception of the same kind as `error`, whose message says which node failed; the
    error itself where it names this node already (nan_guard's, check's)."""
    if getattr(error, "node", None) is node:
        return error
    message = f"{describe_node(node, arrays)}\n  failed: {type(error).__name__}: {error}"
    try:
        return type(error)(message)
    except Exception:
        return RuntimeError(message)


def member_ops(op) -> list[str]:
    """The op names a fused node computes (its program's steps, then its reduction), else []."""
    program = getattr(op, "program", op)
    names = [s.op.name for s in getattr(program, "steps", ())]
    if program is not op:
        names.append(op.reduce.name)
    return names


class NodeNames:
    """How the debugging modes name a node of one compiled graph: the line `S.debugprint`
    prints for its output (with its [id …], worked out at the first error only), the member
    ops of a fused node, and where the user built it (as the profile prints it)."""

    def __init__(self, outputs):
        self.outputs, self._labels = list(outputs), None

    def describe(self, node, output: int) -> str:
        from symbolic.printing import node_labels, variable_line

        if self._labels is None:
            self._labels = node_labels(self.outputs)
        var = node.outputs[output]
        label = self._labels.get(id(var))
        where = "" if label else " (of a loop's step, compiled again for its shapes)"
        lines = [f"  node: {variable_line(var, label)}{where}"]
        members = member_ops(node.op)
        if members:
            lines.append(f"  fused node computing: {', '.join(members)}")
        lines.append(f"  built at {node.location or '(unknown: not built from user code)'}")
        return "\n".join(lines)
