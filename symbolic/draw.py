"""S.draw: a picture of a graph, compiled or not, in the spirit of Theano's pydotprint.

    S.draw(f, "train.svg")        # the optimized graph of a compiled function
    S.draw(cost, "cost.png")      # the graph of variables as built, before optimization

Operations are boxes coloured by kind (KIND_COLOURS) and labelled with their op, their
debugprint id and, for a fused node, the scalar expression it computes; inputs, shared
variables, constants, outputs and updates are ellipses; an edge carries a value, labelled with
its dtype and shape. A loop (scan) is one box; `inner=True` also draws each loop's step graph
into a file of its own. Graphviz's `dot` lays the picture out where it is installed; else
networkx and matplotlib do (symbolic/draw_layout.py), so drawing needs no system package. A
".html" path gives the SVG in a page that zooms and pans (symbolic/draw_html.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from symbolic.graph import Constant, SharedVariable, Variable, toposort

# Fill colours: one per kind of operation (what runs it), one per role of a leaf or result.
KIND_COLOURS = {
    "elementwise": "#cde4ff",  # a generated elementwise kernel (fused or single)
    "reduction": "#ffdca8",  # a generated reduction kernel
    "rows": "#ffc9d6",  # softmax-like kernels over whole rows
    "indexing": "#e2d4ff",  # generated gather and scatter kernels
    "blas": "#c9efc9",  # matrix products through BLAS
    "loop": "#fff2a8",  # scan: an inner graph run once per step
    "host": "#e4e4e4",  # views, shapes and other NumPy-run operations
}
ROLE_COLOURS = {
    "input": "#8fc1e3",
    "shared": "#f5b971",
    "constant": "#ffffff",
    "output": "#9fd89f",
    "update": "#f29e9e",
}
EXPRESSION_CHARS = 60  # a fused node's expression beyond this is cut short: pictures stay legible
DOT_TIMEOUT_S = 120


@dataclass
class Picture:
    """A graph as drawn: nodes (key → (label, shape "box" or "ellipse", fill colour)) and
    edges (source key, target key, label, dashed)."""

    nodes: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)
    loops: list = field(default_factory=list)  # (label, Apply) of each loop node drawn


def draw(obj, path: str, *, inner: bool = False, engine: str = "auto") -> list[str]:
    """Draw `obj` (a compiled Function, a variable or a list of variables) into `path`.

    Parameters
    ----------
    obj : the function (its optimized graph) or the variables (their graph as built).
    path : the file to write; its extension picks the format: ".svg", ".png", or ".html" (the
        SVG in a self-contained page that zooms and pans, with a legend of the colours).
    inner : also draw each loop's inner graph, into `<stem>.<loop id><extension>`.
    engine : "dot" (Graphviz; an error where `dot` is not installed), "matplotlib" (networkx
        and matplotlib), or "auto": dot where installed, else matplotlib.

    Returns the paths written.
    """
    import shutil

    from symbolic.printing import node_labels

    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    if fmt not in ("svg", "png", "html"):
        raise ValueError(f"S.draw writes .svg, .png or .html files, not {path!r}")
    if engine not in ("auto", "dot", "matplotlib"):
        raise ValueError(f'engine must be "auto", "dot" or "matplotlib", not {engine!r}')
    if engine == "dot" and shutil.which("dot") is None:
        raise RuntimeError("engine='dot' needs Graphviz's `dot` program on the PATH")
    use_dot = engine == "dot" or (engine == "auto" and shutil.which("dot") is not None)
    if hasattr(obj, "fgraph"):
        outputs, targets = list(obj.fgraph.outputs), list(obj.fgraph.update_targets)
        inputs = list(obj.inputs)
    else:
        outputs, targets, inputs = list(obj if isinstance(obj, (list, tuple)) else [obj]), [], []
    picture = describe_graph(outputs, targets, inputs, node_labels(outputs))
    _render(picture, path, fmt, use_dot)
    paths = [path]
    if inner:
        stem, ext = os.path.splitext(path)
        for label, node in picture.loops:
            roots = [out for _, out in node.op.inner_roots()]
            part = f"{stem}.{label}{ext}"
            _render(describe_graph(roots, [], [], node_labels(roots)), part, fmt, use_dot)
            paths.append(part)
    return paths


def describe_graph(outputs: list, targets: list, inputs: list, ids: dict) -> Picture:
    """The picture of the graph computing `outputs`, whose last len(`targets`) values are the
    updates of those shared variables; `inputs` are the function's (others are leaves)."""
    picture = Picture()
    nodes = toposort(outputs)
    input_ids = {id(v) for v in inputs}
    for node in nodes:
        key = f"op{id(node)}"
        sources = []
        for k, v in enumerate(node.inputs):
            if isinstance(v, Constant):  # one per reader, drawn beside it
                sources.append(f"{key}.c{k}")
                picture.nodes[sources[-1]] = _leaf(v, False, ids)
                continue
            if v.owner is None and v.uid not in picture.nodes:
                picture.nodes[v.uid] = _leaf(v, id(v) in input_ids, ids)
            sources.append(_source(v))
        label = _op_label(node, ids)
        picture.nodes[key] = (label, "box", KIND_COLOURS[node_kind(node)])
        if hasattr(node.op, "inner_roots"):
            picture.loops.append((ids.get(id(node.outputs[0]), "loop"), node))
        for source, v in zip(sources, node.inputs):
            picture.edges.append((source, key, _edge_label(v), False))
    n_out = len(outputs) - len(targets)
    for k, v in enumerate(outputs):
        if v.owner is None and v.uid not in picture.nodes:
            picture.nodes[v.uid] = _leaf(v, id(v) in input_ids, ids)
        if k < n_out:
            name = f"output {k}" + (f" '{v.name}'" if v.name else "")
            picture.nodes[f"out{k}"] = (name, "ellipse", ROLE_COLOURS["output"])
            picture.edges.append((_source(v), f"out{k}", _edge_label(v), False))
        else:
            target = targets[k - n_out]
            name = f"update {target.name or 'shared'}"
            picture.nodes[f"out{k}"] = (name, "ellipse", ROLE_COLOURS["update"])
            picture.edges.append((_source(v), f"out{k}", _edge_label(v), True))
    return picture


def node_kind(node) -> str:
    """Which KIND_COLOURS entry an operation is drawn with: what runs it."""
    from symbolic.codegen.kernel import describe
    from symbolic.linalg import MatMul

    if hasattr(node.op, "inner_roots"):
        return "loop"
    if isinstance(node.op, MatMul):
        return "blas"
    kernel = describe(node)
    if kernel is None:
        return "host"
    return "indexing" if kernel.kind in ("gather", "scatter") else kernel.kind


def _legend() -> dict:
    """{what a colour means: colour}, for the HTML page."""
    return {**KIND_COLOURS, **ROLE_COLOURS}


def _source(v: Variable):
    return f"op{id(v.owner)}" if v.owner is not None else v.uid


def _edge_label(v: Variable) -> str:
    index = f"[{v.index}] " if v.owner is not None and len(v.owner.outputs) > 1 else ""
    return f"{index}{v.type}"


def _leaf(v: Variable, is_input: bool, ids: dict) -> tuple:
    if isinstance(v, Constant):
        shown = v.data.tolist() if v.data.size <= 4 else f"{v.type}"
        return (f"constant {shown}", "ellipse", ROLE_COLOURS["constant"])
    role = "shared" if isinstance(v, SharedVariable) else "input"
    name = f" '{v.name}'" if v.name else ""
    return (f"{role}{name} [id {ids.get(id(v), '?')}]", "ellipse", ROLE_COLOURS[role])


def _op_label(node, ids: dict) -> str:
    """`op [id A]`, then for a fused node each output's scalar expression (x0, x1, … its
    inputs in order), for a loop the step it runs."""
    head = f"{node.op.name} [id {ids.get(id(node.outputs[0]), '?')}]"
    lines = [head]
    expressions = getattr(node.op, "expressions", None)
    if expressions is not None:  # FusedElemwise
        lines += [_short(f"o{k} = {e}") for k, e in enumerate(expressions)]
    elif hasattr(node.op, "expression"):  # FusedReduce: the value reduced, per element
        lines.append(_short(f"{node.op.reduce.name}({node.op.expression})"))
    elif hasattr(node.op, "describe_step"):
        lines.append(_short(node.op.describe_step()))
    return "\n".join(lines)


def _short(text: str) -> str:
    return text if len(text) <= EXPRESSION_CHARS else text[: EXPRESSION_CHARS - 1] + "…"


def render_dot(picture: Picture) -> str:
    """The picture in Graphviz's DOT language, top to bottom."""
    lines = [
        "digraph symbolic {",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=10, style="filled"];',
        '  edge [fontname="Helvetica", fontsize=8, color="#555555"];',
    ]
    names = {key: f"n{k}" for k, key in enumerate(picture.nodes)}
    for key, (label, shape, colour) in picture.nodes.items():
        style = "filled,rounded" if shape == "box" else "filled"
        lines.append(
            f'  {names[key]} [label="{_dot_text(label)}", shape={shape}, '
            f'style="{style}", fillcolor="{colour}"];'
        )
    for source, target, label, dashed in picture.edges:
        extra = ", style=dashed" if dashed else ""
        lines.append(f'  {names[source]} -> {names[target]} [label="{_dot_text(label)}"{extra}];')
    return "\n".join(lines + ["}"]) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _render(picture: Picture, path: str, fmt: str, use_dot: bool) -> None:
    import subprocess  # here: `import symbolic` does not pay for it

    if fmt == "html":
        from symbolic.draw_html import render_page

        svg = path + ".svg"
        try:
            _render(picture, svg, "svg", use_dot)
            with open(svg) as drawn:
                page = render_page(drawn.read(), os.path.basename(path), _legend())
        finally:
            if os.path.exists(svg):
                os.remove(svg)
        with open(path, "w") as out:
            out.write(page)
        return
    if not use_dot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise RuntimeError(
                "S.draw needs Graphviz's `dot` on the PATH or matplotlib (pip install matplotlib)"
            ) from None
        from symbolic.draw_layout import render_matplotlib

        render_matplotlib(picture, path, fmt)
        return
    try:
        done = subprocess.run(
            ["dot", f"-T{fmt}", "-o", path],
            input=render_dot(picture).encode(),
            capture_output=True,
            timeout=DOT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"Graphviz's dot did not answer within {DOT_TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise RuntimeError(f"Graphviz's dot failed: {done.stderr.decode(errors='replace')}")
