"""S.draw without Graphviz: a layered layout with networkx, drawn by matplotlib.

Layers are networkx's topological generations (inputs on top, results at the bottom); within
a layer, nodes are ordered by the mean position of their predecessors, which keeps most edges
short and uncrossed; one pass over the nodes and edges. SVG keeps its text as text
(svg.fonttype none), so a picture's labels can be searched.
"""

from __future__ import annotations

X_STEP, Y_STEP = 3.2, 1.6  # inches between neighbours in a layer, and between layers


def layered_positions(picture) -> dict:
    """{node key: (x, y)}: a node one layer below its lowest predecessor, a leaf (input,
    shared variable, constant) just above its first reader; each layer centred on x = 0."""
    import networkx as nx  # here: `import symbolic` does not pay for networkx

    graph = nx.DiGraph()
    graph.add_nodes_from(picture.nodes)
    graph.add_edges_from((s, t) for s, t, _, _ in picture.edges)
    layer_of: dict = {}
    for key in nx.topological_sort(graph):
        layer_of[key] = max((layer_of[p] + 1 for p in graph.predecessors(key)), default=0)
    for key in graph:
        if graph.in_degree(key) == 0 and graph.out_degree(key):
            layer_of[key] = min(layer_of[s] for s in graph.successors(key)) - 1
    layers: dict = {}
    for key in picture.nodes:  # in the picture's order, so ties are deterministic
        layers.setdefault(layer_of[key], []).append(key)
    order = {key: k for k, key in enumerate(picture.nodes)}
    positions: dict = {}
    for depth in sorted(layers):

        def mean_x(key) -> float:
            xs = [positions[p][0] for p in graph.predecessors(key) if p in positions]
            xs += [positions[s][0] for s in graph.successors(key) if s in positions]
            return sum(xs) / len(xs) if xs else 0.0

        layer = sorted(layers[depth], key=lambda k: (mean_x(k), order[k]))
        for i, key in enumerate(layer):
            positions[key] = ((i - (len(layer) - 1) / 2) * X_STEP, -depth * Y_STEP)
    return positions


def render_matplotlib(picture, path: str, fmt: str) -> None:
    """Write the picture to `path` as `fmt` ("svg" or "png")."""
    import matplotlib
    from matplotlib.figure import Figure  # not pyplot: the user's backend and figures stay

    positions = layered_positions(picture)
    xs = [x for x, _ in positions.values()] or [0.0]
    ys = [y for _, y in positions.values()] or [0.0]
    width = max(xs) - min(xs) + X_STEP
    height = max(ys) - min(ys) + Y_STEP
    # text stays text; ids and metadata carry no date nor random salt: equal graphs, equal files
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "symbolic"}):
        figure = Figure(figsize=(max(width, 4.0), max(height, 3.0)))
        axes = figure.subplots()
        axes.set_xlim(min(xs) - X_STEP / 2, max(xs) + X_STEP / 2)
        axes.set_ylim(min(ys) - Y_STEP / 2, max(ys) + Y_STEP / 2)
        axes.axis("off")
        texts = {}
        for key, (label, shape, colour) in picture.nodes.items():
            box = "round,pad=0.4" if shape == "box" else "ellipse,pad=0.3"
            texts[key] = axes.text(
                *positions[key],
                label,
                ha="center",
                va="center",
                fontsize=7,
                family="monospace" if "\n" in label else "sans-serif",
                bbox={"boxstyle": box, "facecolor": colour, "edgecolor": "#444444"},
                zorder=3,
            )
        for source, target, label, dashed in picture.edges:
            (x0, y0), (x1, y1) = positions[source], positions[target]
            axes.annotate(
                "",
                xy=(x1, y1),
                xytext=(x0, y0),
                arrowprops={
                    "arrowstyle": "-|>",
                    "color": "#666666",
                    "linestyle": "--" if dashed else "-",
                    "patchA": texts[source].get_bbox_patch(),
                    "patchB": texts[target].get_bbox_patch(),
                    "shrinkA": 2,
                    "shrinkB": 2,
                },
                zorder=1,
            )
            axes.text(
                (x0 + x1) / 2,
                (y0 + y1) / 2,
                label,
                fontsize=6,
                color="#333333",
                ha="center",
                va="center",
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "lw": 0},
                zorder=2,
            )
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        figure.savefig(path, format=fmt, bbox_inches="tight", dpi=120, metadata=metadata)
