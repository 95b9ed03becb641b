"""Per-node call counts and time, collected when a function is compiled with profile=True;
for functions with collectives also communication time and the part of it that overlap hid,
and the last call as a Chrome trace (runtime/trace.py); for matrix products the form each one
runs in and how it was chosen (runtime/gemm_plans.py)."""

from __future__ import annotations

import time


class Profile:
    def __init__(self):
        self.calls: dict = {}
        self.seconds: dict = {}
        self.compute_seconds = 0.0  # nodes that do not communicate
        self.communication_seconds = 0.0  # buckets from start to done, plus blocking collectives
        self.exposed_seconds = 0.0  # of that, time spent waiting (not hidden by compute)
        self.last_call: list | None = None  # (node, seconds) in schedule order
        self.last_buckets: list = []  # the last call's all-reduce buckets (buckets.Bucket)
        self.plans: dict = {}  # product node → its gemm_plans.Choice per layout met so far
        self.call_started = self.call_clock = (
            0.0  # the last call's start: time.time(), perf_counter()
        )

    def begin_call(self) -> None:
        self.last_call, self.call_started, self.call_clock = [], time.time(), time.perf_counter()

    def record(self, node, seconds: float) -> None:
        self.calls[node] = self.calls.get(node, 0) + 1
        self.seconds[node] = self.seconds.get(node, 0.0) + seconds
        if self.last_call is not None:
            self.last_call.append((node, seconds))

    def end_call(self, nodes) -> None:
        """Sum the last call's compute and communication (its nodes: `nodes`)."""
        buckets = {id(b): b for n in nodes for b in [getattr(n.op, "buckets", None)] if b}
        self.last_buckets = [b for all_ in buckets.values() for b in all_.history]
        for node, seconds in self.last_call or ():
            if not getattr(node.op, "communicates", False):
                self.compute_seconds += seconds
            elif not hasattr(node.op, "buckets"):  # a blocking collective: all exposed
                self.communication_seconds += seconds
                self.exposed_seconds += seconds
        for b in self.last_buckets:
            self.communication_seconds += max(b.done, b.started) - b.started
            self.exposed_seconds += max(b.finished - b.waited, 0.0)

    @property
    def hidden_seconds(self) -> float:
        """Communication that ran while the rank computed."""
        return max(self.communication_seconds - self.exposed_seconds, 0.0)

    def rows(self) -> list[tuple]:
        """(op name, where built, calls, total seconds), slowest first."""
        rows = [
            (n.op.name, str(n.location or ""), self.calls[n], self.seconds[n]) for n in self.calls
        ]
        return sorted(rows, key=lambda r: -r[3])

    def trace(self, path: str) -> None:
        """Write the last call as a Chrome trace (chrome://tracing, Perfetto): each rank's
        nodes and all-reduce buckets. Under mpiexec every rank must call it; rank 0 writes."""
        from runtime.trace import write_trace

        write_trace(self, path)

    def __str__(self) -> str:
        rows = self.rows()
        total = sum(r[3] for r in rows) or 1.0
        lines = [f"{'op':<24}{'calls':>8}{'total ms':>12}{'share':>8}  built at"]
        lines += [
            f"{op:<24}{calls:>8}{sec * 1e3:>12.3f}{sec / total:>8.1%}  {where}"
            for op, where, calls, sec in rows
        ]
        if self.plans:  # runtime/gemm_plans.py
            lines.append("product forms (kind dtype batch MxNxK operands: form (how chosen)):")
        for node, choices in self.plans.items():
            where = f" at {node.location}" if node.location else ""
            lines += [f"  {node.op.name}{where}: {choice}" for choice in choices]
        if self.communication_seconds:
            lines.append(
                f"compute {self.compute_seconds * 1e3:.3f} ms, communication "
                f"{self.communication_seconds * 1e3:.3f} ms: {self.hidden_seconds * 1e3:.3f} ms "
                f"hidden by overlap, {self.exposed_seconds * 1e3:.3f} ms waited for"
            )
        return "\n".join(lines)
