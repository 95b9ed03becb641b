"""Per-node call counts and time, collected when a function is compiled with profile=True."""

from __future__ import annotations


class Profile:
    def __init__(self):
        self.calls: dict = {}
        self.seconds: dict = {}

    def record(self, node, seconds: float) -> None:
        self.calls[node] = self.calls.get(node, 0) + 1
        self.seconds[node] = self.seconds.get(node, 0.0) + seconds

    def rows(self) -> list[tuple]:
        """(op name, where built, calls, total seconds), slowest first."""
        rows = [
            (n.op.name, str(n.location or ""), self.calls[n], self.seconds[n]) for n in self.calls
        ]
        return sorted(rows, key=lambda r: -r[3])

    def __str__(self) -> str:
        rows = self.rows()
        total = sum(r[3] for r in rows) or 1.0
        lines = [f"{'op':<24}{'calls':>8}{'total ms':>12}{'share':>8}  built at"]
        lines += [
            f"{op:<24}{calls:>8}{sec * 1e3:>12.3f}{sec / total:>8.1%}  {where}"
            for op, where, calls, sec in rows
        ]
        return "\n".join(lines)
