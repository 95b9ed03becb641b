"""S.debugprint: an indented tree with op names, dtypes, shapes and names; shared sub-trees once."""

from __future__ import annotations

import re

import numpy as np

import symbolic as S


def text_of(obj, capsys) -> str:
    """debugprint's text, whether it returns it or prints it."""
    returned = S.debugprint(obj)
    printed = capsys.readouterr().out
    text = returned if isinstance(returned, str) and returned.strip() else printed
    assert text.strip(), "debugprint neither returned nor printed anything"
    return text


def indent(line: str) -> int:
    """Column of the first letter: tree-drawing characters and spaces count as indentation."""
    return re.search(r"[A-Za-z]", line).start()


def line_of(lines: list, word: str) -> int:
    hits = [i for i, line in enumerate(lines) if re.search(rf"\b{word}\b", line)]
    assert hits, f"{word!r} not in:\n" + "\n".join(lines)
    return hits[0]


def tokens(line: str) -> set:
    return set(re.findall(r"\w+", line))


def test_debugprint_shows_ops_dtypes_shapes_names(capsys):
    x = S.tensor("pixels", "float64", (3, 4))
    w = S.vector("weights", "float32")
    y = S.dot(S.exp(x), w).sum()
    text = text_of(y, capsys)
    for word in ["exp", "pixels", "weights", "float64", "float32"]:
        assert word in text, f"{word!r} missing from\n{text}"
    assert "dot" in text or "matmul" in text, text
    assert re.search(r"3\D{1,3}4", text), f"static shape (3, 4) missing from\n{text}"


def test_debugprint_indents_children_under_parents(capsys):
    x = S.vector("x")
    y = S.sqrt(S.exp(S.sin(x)))
    lines = text_of(y, capsys).splitlines()
    depth = [indent(lines[line_of(lines, w)]) for w in ["sqrt", "exp", "sin", "x"]]
    assert depth == sorted(depth) and len(set(depth)) == 4, lines
    order = [line_of(lines, w) for w in ["sqrt", "exp", "sin", "x"]]
    assert order == sorted(order), lines


def test_debugprint_shared_subtree_printed_once(capsys):
    x = S.matrix("x")
    inner = S.tanh(S.sin(x))
    y = S.exp(inner) + S.cos(inner)
    lines = [line for line in text_of(y, capsys).splitlines() if line.strip()]
    assert sum(bool(re.search(r"\bsin\b", line)) for line in lines) == 1, lines
    assert sum("'x'" in line or re.search(r"\bx\b", line) is not None for line in lines) == 1
    reference = line_of(lines, "cos") + 1  # the line under cos refers back to tanh
    full = [i for i, line in enumerate(lines) if re.search(r"\btanh\b", line) and i != reference]
    assert len(full) == 1, lines
    others = set().union(
        *(tokens(line) for i, line in enumerate(lines) if i not in (reference, full[0]))
    )
    shared_id = (tokens(lines[full[0]]) & tokens(lines[reference])) - others - {"tanh"}
    assert shared_id, "no id shared by the tanh line and its reference:\n" + "\n".join(lines)


def test_debugprint_of_several_outputs_shares_ids(capsys):
    x = S.vector("x")
    common = S.exp(S.sin(x))
    text = text_of([common * 2, common + 1], capsys)
    assert len(re.findall(r"\bsin\b", text)) == 1, text


def test_debugprint_of_compiled_function(capsys):
    x = S.vector("inputs", "float64")
    W = S.shared(np.ones(3), name="W")
    f = S.compile([x], S.exp(x).sum(), updates=[(W, W * 2)], device="numpy")
    text = text_of(f, capsys)
    assert "inputs" in text and "float64" in text and "W" in text, text


def test_debugprint_of_a_deep_chain_stays_linear_in_size():
    """Indentation stops at printing.MAX_DEPTH levels; deeper parts are continued below, so a
    chain of 3,000 nodes prints 3,000-odd short lines, each node's inputs once."""
    from symbolic.printing import MAX_DEPTH

    x = S.vector("x")
    y = x
    for k in range(3000):
        y = S.exp(y) if k % 2 else y * 2.0
    lines = S.debugprint(y, file="str").splitlines()
    assert max(map(len, lines)) < 3 * MAX_DEPTH + 80
    assert len(lines) < 2 * 3000 + 3000 // MAX_DEPTH * 2  # every node and constant once
    labels = re.findall(r"continued from \[id (\w+)\]", "\n".join(lines))
    assert labels and len(labels) == len(set(labels))
    expanded = [line for line in lines if re.search(r"\b(exp|mul) \[id", line)]
    assert len({re.search(r"\[id (\w+)\]", line).group(1) for line in expanded}) == 3000
