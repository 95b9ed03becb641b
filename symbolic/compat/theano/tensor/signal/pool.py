"""theano.tensor.signal.pool.pool_2d on S.nnet's pooling ops."""

from __future__ import annotations

import symbolic as S
from symbolic.compat.theano._unsupported import module_getattr, unsupported

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

    ignore_border=True drops partial windows at the far edges (symbolic's floor rule);
    False (Theano's default, with no padding) keeps them: ceil_mode=True."""
    ws = ws if ws is not None else ds
    stride = stride if stride is not None else (st if st is not None else ws)
    pad = tuple(padding if padding is not None else pad)
    if mode not in MODES:
        raise unsupported(f"pool_2d(mode={mode!r})", f"one of {tuple(MODES)}")
    if not ignore_border and any(pad):
        raise unsupported("pool_2d(ignore_border=False) with padding", "ignore_border=True")
    pool, keywords = MODES[mode]
    return pool(input, tuple(ws), tuple(stride), pad, ceil_mode=not ignore_border, **keywords)


pool2d = pool_2d

__getattr__ = module_getattr("theano.tensor.signal.pool", {"max_pool_2d_same_size": "none"})
