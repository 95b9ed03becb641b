"""theano.tensor.signal.pool.pool_2d on S.nnet's pooling ops."""

from __future__ import annotations

import symbolic as S
from symbolic.compat.theano._unsupported import module_getattr, unsupported
from symbolic.windows import output_length

# Theano's mode -> (S.nnet pooling, its keywords)
MODES = {
    "max": (S.nnet.max_pool2d, {}),
    "sum": (S.nnet.sum_pool2d, {}),
    "average_inc_pad": (S.nnet.avg_pool2d, {"count_include_pad": True}),
    "average_exc_pad": (S.nnet.avg_pool2d, {"count_include_pad": False}),
    "average": (S.nnet.avg_pool2d, {"count_include_pad": True}),
}


def pool_2d(input, ws=None, ignore_border=None, stride=None, pad=(0, 0), mode="max", ds=None,
            st=None, padding=None):  # fmt: skip
    """Pool the last two axes of a 4-d input: windows `ws` (or `ds`), `stride` (or `st`,
    default ws), `pad` (or `padding`), mode max, sum, average_inc_pad or average_exc_pad.

    ignore_border=True is symbolic's floor rule. ignore_border=False (Theano's default) keeps
    partial windows at the far edges; it is accepted where the input's static shape shows
    there are none, and refused otherwise."""
    ws = ws if ws is not None else ds
    stride = stride if stride is not None else (st if st is not None else ws)
    pad = padding if padding is not None else pad
    if mode not in MODES:
        raise unsupported(f"pool_2d(mode={mode!r})", f"one of {tuple(MODES)}")
    if not ignore_border:
        _check_no_partial_windows(input, ws, stride, pad)
    pool, keywords = MODES[mode]
    return pool(input, tuple(ws), tuple(stride), tuple(pad), **keywords)


def _check_no_partial_windows(x, ws, stride, pad) -> None:
    for axis, (n, k, s, p) in enumerate(zip(x.type.shape[-2:], ws, stride, pad)):
        if n is None or p or (n - k) % s != 0 or output_length(n, k, s, 0) < 1:
            raise unsupported(
                "pool_2d(ignore_border=False) where a partial window may be left at the edge "
                f"(axis {x.ndim - 2 + axis} of {x.describe()})",
                "pool_2d(..., ignore_border=True) (S.nnet.max_pool2d's floor rule)",
            )


pool2d = pool_2d

__getattr__ = module_getattr("theano.tensor.signal.pool", {"max_pool_2d_same_size": "none"})
