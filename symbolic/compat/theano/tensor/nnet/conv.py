"""theano.tensor.nnet.conv: the older conv2d, always the convolution proper (flipped filters)."""

from __future__ import annotations

import symbolic as S
from symbolic.compat.theano._unsupported import module_getattr


def conv2d(input, filters, image_shape=None, filter_shape=None, border_mode="valid",
           subsample=(1, 1), **kwargs):  # fmt: skip
    return S.nnet.conv2d(input, filters, subsample, border_mode, True, filter_shape)


__getattr__ = module_getattr("theano.tensor.nnet.conv", {})
