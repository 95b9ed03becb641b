"""theano.tensor.nnet: activations, softmax, cross-entropies and conv2d on S.nnet."""

from __future__ import annotations

import symbolic as S
from symbolic.compat.theano._unsupported import module_getattr, reject
from symbolic.compat.theano.tensor.nnet import conv

__all__ = [
    "binary_crossentropy",
    "categorical_crossentropy",
    "conv",
    "conv2d",
    "logsoftmax",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
]

sigmoid = S.sigmoid
softplus = S.softplus
binary_crossentropy = S.nnet.binary_crossentropy
categorical_crossentropy = S.nnet.categorical_crossentropy


def softmax(c, axis=-1):
    return S.nnet.softmax(c, axis)


def logsoftmax(c, axis=-1):
    return S.nnet.log_softmax(c, axis)


def relu(x, alpha=0):
    """max(x, 0), or x where x > 0 else alpha·x (S.nnet.leaky_relu)."""
    return S.nnet.relu(x) if alpha == 0 else S.nnet.leaky_relu(x, alpha)


def conv2d(input, filters, input_shape=None, filter_shape=None, border_mode="valid",
           subsample=(1, 1), filter_flip=True, image_shape=None, filter_dilation=(1, 1),
           num_groups=1, unshared=False, **kwargs):  # fmt: skip
    """theano.tensor.nnet.conv2d → S.nnet.conv2d: border_mode "valid", "full", "half", an int
    or a pair is the padding, subsample the stride; filter_flip=True (Theano's default) is the
    convolution proper (flipped filters), False the cross-correlation."""
    reject(
        "theano.tensor.nnet.conv2d",
        "S.nnet.conv2d (no dilation, groups or unshared filters)",
        filter_dilation=(tuple(filter_dilation), (1, 1)),
        num_groups=(num_groups, 1),
        unshared=(unshared, False),
    )
    return S.nnet.conv2d(
        input, filters, subsample, border_mode, flip=filter_flip, filter_shape=filter_shape
    )


__getattr__ = module_getattr(
    "theano.tensor.nnet",
    {
        "ultra_fast_sigmoid": "S.sigmoid (exact)",
        "hard_sigmoid": "S.clip(0.2 * x + 0.5, 0, 1)",
        "elu": "S.where(x > 0, x, S.expm1(x))",
        "softsign": "x / (1 + abs(x))",
        "bn": "S.nnet.batch_norm",
        "crossentropy_softmax_1hot": "S.nnet.crossentropy_softmax",
        "conv3d": "none (2-d only)",
    },
)
