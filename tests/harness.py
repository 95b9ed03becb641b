"""The compile-and-call helper the op tables use.

It lives in its own module, not in conftest.py, so that `from harness import run` finds it no
matter how many conftest.py files the tree holds (each is imported as a module named `conftest`).
"""

from __future__ import annotations

import symbolic as S


def run(outputs, inputs_values: dict, device: str):
    """Compile `outputs` over the variables keyed in `inputs_values` and call it on the values."""
    inputs = list(inputs_values)
    f = S.compile(inputs, outputs, device=device)
    return f(*inputs_values.values())
