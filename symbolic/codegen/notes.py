"""The comment each kernel opens with: the graph nodes it computes and where the user built them.

    // k2_fused_add_tanh computes:
    //   fused_add_tanh [id D] float32 (?, 64) from mlp.py:17 (layer)

The ids are `S.debugprint`'s for the compiled function; a location is the file's base name, its
line and its function, so the text is the same on every machine. Notes are line comments at
column 0, and nothing else the renderers write is: `strip_notes` removes exactly them, and the
compile cache keys a source by that text, so editing unrelated user lines (which moves the
locations) finds the library built before. See docs/kernels.md, "Reading the source".
"""

from __future__ import annotations

import os
import re

from symbolic.trace import Location

NOTE = "//"  # a note line starts with this at column 0; no other line of generated source does

_NOTE_LINE = re.compile(r"^//[^\n]*\n", re.MULTILINE)


def strip_notes(source: str) -> str:
    """`source` without its note lines: the text that decides what the compiler builds."""
    return _NOTE_LINE.sub("", source)


def render_location(location: Location | None) -> str:
    """`mlp.py:17 (layer)`: the base name keeps generated source equal across machines."""
    if location is None:
        return "an unknown line"
    return f"{os.path.basename(location.filename)}:{location.lineno} ({location.function})"


def render_node(node, ids: dict) -> str:
    """`fused_add_tanh [id D] float32 (?, 64) from mlp.py:16 (layer), mlp.py:17 (layer)`: a
    fused node names the line of each of its members."""
    outs = ", ".join(f"[id {ids.get(id(v), '?')}] {v.type}" for v in node.outputs)
    where = getattr(node, "member_locations", ()) or (node.location,)
    return f"{node.op.name} {outs} from {', '.join(render_location(w) for w in where)}"


def render_note(name: str, nodes: list, ids: dict) -> str:
    """The note of kernel `name`, which computes `nodes` (several where equal nodes share it)."""
    lines = [f"{NOTE} {name} computes:", *[f"{NOTE}   {render_node(n, ids)}" for n in nodes]]
    return "\n".join(lines) + "\n"


def kernel_notes(described: list, ids: dict) -> dict[str, str]:
    """{kernel name: its note} for (name, node, description) triples; equal descriptions share
    the first one's function, whose note names all their nodes."""
    first: dict = {}
    nodes: dict[str, list] = {}
    for name, node, description in described:
        nodes.setdefault(first.setdefault(description, name), []).append(node)
    return {name: render_note(name, members, ids) for name, members in nodes.items()}
