"""Errors raised while running a graph name the op, the shapes and dtypes, and the user's line."""

from __future__ import annotations


def describe_node(node, arrays=None) -> str:
    shown = ", ".join(
        f"{a.dtype}{list(a.shape)}" if hasattr(a, "shape") else repr(a) for a in arrays or ()
    )
    where = f"\n  the node was built at {node.location}" if node.location else ""
    return f"{node.op.name} on inputs ({shown}){where}"


def node_error(node, arrays, error: Exception) -> Exception:
    """An exception of the same kind as `error`, whose message says which node failed."""
    message = f"{describe_node(node, arrays)}\n  failed: {type(error).__name__}: {error}"
    try:
        return type(error)(message)
    except Exception:
        return RuntimeError(message)
