"""S.draw: SVG and PNG pictures of compiled and unoptimized graphs, with dot or matplotlib."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import symbolic as S
from symbolic.draw import KIND_COLOURS, ROLE_COLOURS, describe_graph, render_dot
from symbolic.printing import node_labels

pytest.importorskip("matplotlib", reason="S.draw without Graphviz draws with matplotlib")


def training_step():
    x, y = S.matrix("x"), S.vector("y", dtype="int64")
    w = S.shared(np.zeros((3, 2), np.float32), name="W")
    cost = S.nnet.categorical_crossentropy(S.nnet.softmax(S.tanh(x @ w) * 2), y).mean()
    (g,) = S.grad(cost, [w])
    return S.compile([x, y], cost, updates=[(w, w - 0.1 * g)], device="numpy")


def svg_text(path) -> str:
    """The text of an SVG's labels, entities decoded."""
    texts = re.findall(r"<text[^>]*>(.*?)</text>", path.read_text(), flags=re.S)
    plain = " ".join(re.sub(r"<[^>]+>", " ", t) for t in texts)
    return plain.replace("&gt;", ">").replace("&lt;", "<").replace("&#39;", "'")


def test_svg_names_every_node_and_marks_roles(tmp_path):
    f = training_step()
    (path,) = S.draw(f, str(tmp_path / "step.svg"), engine="matplotlib")
    text = svg_text(tmp_path / "step.svg")
    ids = node_labels(list(f.fgraph.outputs))
    for node in f.fgraph.nodes:
        assert f"{node.op.name} [id {ids[id(node.outputs[0])]}]" in text, node.op.name
    assert "input 'x'" in text and "input 'y'" in text and "shared 'W'" in text
    assert "output 0" in text and "update W" in text
    assert "float32" in text  # edges carry dtype and shape
    fused = next(n for n in f.fgraph.nodes if n.op.name.startswith("fused"))
    assert str(fused.op.expressions[0])[:20] in text  # the scalar expression it computes


def test_svg_is_the_same_on_every_run(tmp_path):
    x = S.vector("x")
    S.draw(S.exp(x) + 1, str(tmp_path / "a.svg"), engine="matplotlib")
    S.draw(S.exp(x) + 1, str(tmp_path / "b.svg"), engine="matplotlib")
    assert (tmp_path / "a.svg").read_text() == (tmp_path / "b.svg").read_text()


def test_png_is_drawn_from_unoptimized_variables(tmp_path):
    x = S.vector("x")
    paths = S.draw(S.exp(x) + 1, str(tmp_path / "g.png"), engine="matplotlib")
    assert paths == [str(tmp_path / "g.png")]
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_nodes_are_coloured_by_kind():
    f = training_step()
    picture = describe_graph(list(f.fgraph.outputs), f.fgraph.update_targets, f.inputs, {})
    fills = {label.split(" ")[0]: colour for label, _, colour in picture.nodes.values()}
    assert fills["dot"] == KIND_COLOURS["blas"]
    assert fills["crossentropy_softmax"] == KIND_COLOURS["rows"]
    assert any(c == KIND_COLOURS["elementwise"] for k, c in fills.items() if k.startswith("fused"))
    assert fills["shared"] == ROLE_COLOURS["shared"] and fills["update"] == ROLE_COLOURS["update"]
    dot = render_dot(picture)
    assert dot.startswith("digraph symbolic {") and dot.count("->") == len(picture.edges)
    assert "style=dashed" in dot  # the update edge


def test_a_loop_is_one_node_and_its_step_can_be_drawn_apart(tmp_path):
    x = S.matrix("x")
    h, _ = S.scan(lambda row, acc: acc + S.tanh(row), sequences=[x], outputs_info=[S.zeros(3)])
    f = S.compile([x], h[-1], device="numpy")
    paths = S.draw(f, str(tmp_path / "loop.svg"), inner=True, engine="matplotlib")
    assert len(paths) == 2
    outer, inner = svg_text(tmp_path / "loop.svg"), svg_text(Path(paths[1]))
    assert "scan" in outer and "tanh" not in outer.replace("the step function", "")
    assert "tanh" in inner


def test_html_page_holds_the_svg_and_needs_no_network(tmp_path):
    f = training_step()
    (path,) = S.draw(f, str(tmp_path / "step.html"), engine="matplotlib")
    page = Path(path).read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "update W" in page
    for fetch in ("src=", "<link", 'href="http', "@import", "url(http"):  # nothing to download
        assert fetch not in page
    assert list(tmp_path.iterdir()) == [tmp_path / "step.html"]  # the temporary SVG is gone


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_dot_engine_writes_svg_and_png(tmp_path):
    f = training_step()
    S.draw(f, str(tmp_path / "step.svg"), engine="dot")
    S.draw(f, str(tmp_path / "step.png"), engine="dot")
    assert "update W" in svg_text(tmp_path / "step.svg")
    assert (tmp_path / "step.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_requests_say_what_is_wrong(tmp_path):
    x = S.vector("x")
    with pytest.raises(ValueError, match=r"\.svg, \.png or \.html"):
        S.draw(x + 1, str(tmp_path / "g.pdf"))
    with pytest.raises(ValueError, match="engine"):
        S.draw(x + 1, str(tmp_path / "g.svg"), engine="neato")
