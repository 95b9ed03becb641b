"""The check every Theano program's test ends with: its values against its symbolic twin's.

Its own module (not conftest.py) so that `from twins import …` finds it whichever conftest.py
Python imported first.
"""

from __future__ import annotations

import numpy as np


def assert_same_values(got, want, device: str) -> None:
    """Theano program against the symbolic one: the same graphs, so equal on numpy and within
    float32 rounding of a few kernels' sums on cpu."""
    for g, w in zip(got, want):
        if device == "numpy":
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=1e-6)
