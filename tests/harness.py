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


def assert_matches_oracle(got, want, device: str, precision: str | None = None, scale=None) -> None:
    """Exact on the numpy device; within a few ulps elsewhere (generated code may use vector
    math, within 4 ulp of libm; CUDA's libdevice documents up to 4 ulp for tanf, erfcf and
    powf, on top of the oracle's own rounding: 8 on cuda), with NaN where the oracle has NaN.

    `precision`: the narrowest float dtype the values were computed through, when narrower
    than the result's (a float32 exp promoted to float64 carries float32's rounding: NumPy's
    own float32 exp is not correctly rounded on every CPU, so the two may differ by its ulp).

    `scale`: where the value is a sum whose terms cancel, the magnitude of the terms (e.g. the
    same computation on their absolute values): rounding errors are relative to it, not to the
    result, so the tolerance is too."""
    import numpy as np

    got, want = np.asarray(got), np.asarray(want)
    if device == "numpy" or want.dtype.kind not in "fc":
        np.testing.assert_array_equal(got, want)
    else:
        rtol = (8 if device == "cuda" else 4) * np.finfo(precision or want.dtype).eps
        if scale is None:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e-3, equal_nan=True)
            return
        difference = np.where(np.isnan(got) & np.isnan(want), 0, np.abs(got - want))
        bound = rtol * (np.abs(want) + np.asarray(scale)) + np.finfo(want.dtype).tiny
        np.testing.assert_array_less(difference, bound, err_msg="|got − oracle| vs its bound")


def assert_gradients_match_differences(grads, cost, values, rtol=1e-6, atol=1e-8) -> None:
    """`grads(*values)` (the gradients of the scalar `cost(*values)` with respect to every
    value) against central differences of cost, one element at a time (float64 values)."""
    import numpy as np

    for g, position in zip(grads(*values), range(len(values))):
        numeric = np.zeros_like(values[position])
        for index in np.ndindex(numeric.shape):
            shifted = [v.copy() for v in values]
            shifted[position][index] += 1e-6
            up = float(cost(*shifted))
            shifted[position][index] -= 2e-6
            numeric[index] = (up - float(cost(*shifted))) / 2e-6
        np.testing.assert_allclose(g, numeric, rtol=rtol, atol=atol)
