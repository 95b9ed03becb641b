"""Truncated backpropagation through time (Theano's `truncate_gradient`).

With truncate_gradient = k the gradient flows back through the last k steps only: every float
value a step reads (sequence slices, the states before the step, non-sequences) passes through a
gradient gate that is open at steps t ≥ n − k and shut before. So the steps before the window
contribute nothing to any gradient (neither through their outputs nor through the states they
hand on), and the initial states get no gradient unless k ≥ n. The forward values are the same:
the gates are identities, which the optimizer removes once the gradients are built.
"""

from __future__ import annotations

from symbolic import dtypes
from symbolic.alloc import arange
from symbolic.elemwise import cast, ge
from symbolic.gradient import stop_gradient
from symbolic.graph import tensor
from symbolic.scan.parts import LoopParts


def truncate_gradient(parts: LoopParts, k: int) -> None:
    """Gate the inner inputs of `parts` so that gradients see only the last `k` steps."""
    gated = [v for v in parts.slices + parts.states + parts.fixed if dtypes.is_float(v.dtype)]
    step = tensor("t", "int64", ())
    window_start = tensor("n_steps - truncate_gradient", "int64", ())
    keep = ge(step, window_start)
    parts.substitute({v: stop_gradient(v, keep=keep) for v in gated})
    parts.add_sequence(step, arange(cast(parts.n_steps, "int64"), dtype="int64"))
    parts.add_fixed(window_start, cast(parts.n_steps, "int64") - k)
