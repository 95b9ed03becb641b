"""Neural-network functions (`S.nnet`): activations, softmax, the cross-entropies, dropout, and
the layers defined in their own modules (conv2d, pooling, batch_norm)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symbolic import dtypes
from symbolic.alloc import arange, one_hot
from symbolic.conv import conv2d
from symbolic.elemwise import exp, gt, log, mul, relu, sigmoid, softplus, sub, true_div, where
from symbolic.graph import TensorType, Variable, as_variable
from symbolic.normalization import batch_norm
from symbolic.op import Op
from symbolic.pool import avg_pool2d, max_pool2d, sum_pool2d
from symbolic.reduction import sum
from symbolic.shape import dim, dimshuffle, normalize_axes, shape_of

__all__ = [
    "relu",
    "sigmoid",
    "softplus",
    "softmax",
    "log_softmax",
    "categorical_crossentropy",
    "binary_crossentropy",
    "crossentropy_softmax",
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "sum_pool2d",
    "leaky_relu",
    "dropout",
    "batch_norm",
]


@dataclass(frozen=True)
class Softmax(Op):
    """exp(x − max x) / Σ exp(x − max x) along `axis`: finite for any finite logits."""

    axis: int

    def infer(self, x):
        return [TensorType(dtypes.to_float(x.dtype), x.type.shape)]

    def perform(self, x):
        x = x.astype(dtypes.to_float(x.dtype.name), copy=False)
        e = np.exp(x - np.max(x, axis=self.axis, keepdims=True))
        return e / np.sum(e, axis=self.axis, keepdims=True)

    def grad(self, inputs, outputs, output_grads):
        # ds_i = s_i (dg_i − Σ_j g_j s_j)
        s, g = outputs[0], output_grads[0]
        return [s * (g - sum(g * s, self.axis, keepdims=True))]


@dataclass(frozen=True)
class LogSoftmax(Op):
    """x − max x − log Σ exp(x − max x) along `axis`."""

    axis: int

    @property
    def name(self) -> str:
        return "log_softmax"

    def infer(self, x):
        return [TensorType(dtypes.to_float(x.dtype), x.type.shape)]

    def perform(self, x):
        x = x.astype(dtypes.to_float(x.dtype.name), copy=False)
        shifted = x - np.max(x, axis=self.axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=self.axis, keepdims=True))

    def grad(self, inputs, outputs, output_grads):
        # d(log softmax)_i = g_i − softmax_i Σ_j g_j
        z, g = outputs[0], output_grads[0]
        return [g - exp(z) * sum(g, self.axis, keepdims=True)]


@dataclass(frozen=True)
class CrossentropySoftmax(Op):
    """−log_softmax(x)[i, y_i] per row: the cross-entropy of integer labels y from logits x.

    Computed as log Σ_j exp(x_ij − m_i) − (x_iy_i − m_i) with m_i = max_j x_ij, so it is
    finite for any finite logits; the stabilize rules make it from −log(softmax(x)[i, y_i]).
    """

    @property
    def name(self) -> str:
        return "crossentropy_softmax"

    def infer(self, x, y):
        if x.ndim != 2 or y.ndim != 1 or dtypes.kind(y.dtype) not in ("i", "u"):
            raise TypeError(
                "crossentropy_softmax needs a matrix of logits and a vector of integer labels, "
                f"got {x.describe()} and {y.describe()}"
            )
        rows = x.type.shape[0] if x.type.shape[0] is not None else y.type.shape[0]
        return [TensorType(dtypes.to_float(x.dtype), (rows,))]

    def perform(self, x, y):
        if y.shape != x.shape[:1]:
            raise ValueError(f"{x.shape[0]} rows of logits but {y.shape[0]} labels")
        x = x.astype(dtypes.to_float(x.dtype.name), copy=False)
        shifted = x - np.max(x, axis=1, keepdims=True)
        lse = np.log(np.sum(np.exp(shifted), axis=1))
        return lse - shifted[np.arange(x.shape[0]), y]

    def grad(self, inputs, outputs, output_grads):
        # d/dx_ij = g_i (softmax(x)_ij − [j = y_i])
        x, y = inputs
        p = softmax(x, axis=1)
        target = one_hot(y, dim(x, 1), p.dtype)
        return [dimshuffle(output_grads[0], 0, "x") * (p - target), None]


def crossentropy_softmax(logits, labels) -> Variable:
    """−log softmax(logits)[i, labels_i] per row, computed stably from the logits."""
    return CrossentropySoftmax()(as_variable(logits), as_variable(labels))


def softmax(x, axis: int = -1) -> Variable:
    x = as_variable(x)
    return Softmax(normalize_axes(axis, x.ndim)[0])(x)


def log_softmax(x, axis: int = -1) -> Variable:
    x = as_variable(x)
    return LogSoftmax(normalize_axes(axis, x.ndim)[0])(x)


def categorical_crossentropy(coding_dist, true_dist) -> Variable:
    """−log p[i, y_i] for integer labels y, or −Σ_j t_ij log p_ij for one-hot/soft targets t.

    `coding_dist` holds probabilities along its last axis, one row per example.
    """
    p, t = as_variable(coding_dist), as_variable(true_dist)
    if dtypes.kind(t.dtype) != "f" and t.ndim == p.ndim - 1:
        if p.ndim != 2:
            raise ValueError(
                "categorical_crossentropy with integer labels needs a matrix of "
                f"probabilities, got {p.describe()}"
            )
        return -log(p[arange(dim(p, 0)), t])
    if t.ndim != p.ndim:
        raise ValueError(
            f"categorical_crossentropy: targets {t.describe()} must be integer "
            f"labels with one axis fewer than {p.describe()}, or match its shape"
        )
    return -sum(mul(t, log(p)), axis=-1)


def binary_crossentropy(output, target) -> Variable:
    """−(t log p + (1 − t) log(1 − p)), elementwise."""
    p, t = as_variable(output), as_variable(target)
    return -(t * log(p) + sub(1, t) * log(sub(1, p)))


def leaky_relu(x, alpha) -> Variable:
    """x where x > 0, else alpha·x (alpha = 0: relu)."""
    x = as_variable(x)
    return where(gt(x, 0), x, mul(alpha, x))


def dropout(x, p, rng, deterministic: bool = False) -> Variable:
    """Zero each value of x with probability p and scale the others by 1/(1 − p).

    Parameters
    ----------
    x : float tensor.
    p : the drop probability, in [0, 1): a number or a float scalar tensor.
    rng : the `S.RandomStream` the mask is drawn from (a new mask on every call).
    deterministic : True gives x itself: the inference form (Lasagne's `deterministic`),
        under which the expected value matches training's.
    """
    x = as_variable(x)
    if not dtypes.is_float(x.dtype):
        raise TypeError(f"dropout needs a float tensor, got {x.describe()}")
    if not isinstance(p, Variable) and not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p!r}")
    if deterministic or (not isinstance(p, Variable) and p == 0):
        return x
    keep = rng.binomial(shape_of(x), sub(1, p) if isinstance(p, Variable) else 1 - p, dtype=x.dtype)
    scale = true_div(1, sub(1, p)) if isinstance(p, Variable) else 1 / (1 - p)
    return x * keep * scale
