"""Print every rewrite rule as a Markdown table: `python -m symbolic.optimizer.rules`.

docs/optimizer.md holds this table; a test checks that it is current.
"""

from symbolic.optimizer.rules import CANONICALIZE, SPECIALIZE, STABILIZE

PHASES = (("canonicalize", CANONICALIZE), ("stabilize", STABILIZE), ("specialize", SPECIALIZE))


def render_rule_table() -> str:
    lines = ["| phase | rule | what it does |", "|---|---|---|"]
    for phase, rules in PHASES:
        lines += [f"| {phase} | `{r.name}` | {r.math.replace('|', '∣')} |" for r in rules]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_rule_table())
