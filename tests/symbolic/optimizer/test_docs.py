"""docs/optimizer.md lists every rule as the rule tables define it."""

from pathlib import Path

from symbolic.optimizer.rules.__main__ import render_rule_table

DOC = Path(__file__).parents[3] / "docs" / "optimizer.md"


def test_rule_table_in_docs_is_current():
    text = DOC.read_text()
    table = text.split("<!-- rules:begin -->\n")[1].split("\n<!-- rules:end -->")[0]
    assert table == render_rule_table(), "run: python -m symbolic.optimizer.rules"
