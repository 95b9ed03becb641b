"""2-d convolution computed from the windows in place, for inputs with few channels.

conv2d_direct(x, w)[n, o, a, b] = Σ_{c,i,j} w[o, c, i, j] · xp[n, c, sh·a + i, sw·b + j]
(xp: x padded by zeros), the same sum as conv.py's im2col and product, without the columns.
With few input channels the columns hold C·kh·kw values per output position, kh·kw times the
input, which im2col writes and the product reads back, while the product's inner dimension
C·kh·kw is short; the direct loops read the input from the caches instead (figures in
docs/kernels.md, "direct"). conv.py's conv2d takes this form by DIRECT_MAX_CHANNELS.

Gradients: the filters' is `conv2d_filter_grad(x, g, w)` (w only gives the shape),
dw[o, c, i, j] = Σ_{n,a,b} g[n, o, a, b] · xp[n, c, sh·a + i, sw·b + j], and the input's is
col2im of wᵀ·g, the adjoint of the direct sum in conv.py's own terms (an input that is data
rarely wants it). conv2d_filter_grad is linear in g and in x, so its gradients are a direct
convolution (for g) and the same col2im form (for x): derivatives of every order exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from symbolic.conv import Col2im, check_channels
from symbolic.graph import TensorType
from symbolic.linalg import matmul
from symbolic.op import Op
from symbolic.shape import Size, dim, dimshuffle, flatten, reshape, shape_of
from symbolic.windows import check_fits, output_length, padded

# The most input channels for which conv2d computes the convolution directly: measured on
# the cpu device (docs/kernels.md, "direct"), the direct forward and filters' gradient beat
# im2col and the products for 1, 3, 5 and 8 channels and tie at 16 (3×3 windows).
DIRECT_MAX_CHANNELS = 8


def windows(op: str, x: np.ndarray, fshape: tuple, stride: tuple, padding: tuple) -> np.ndarray:
    """The read-only (N, C, OH, OW, kh, kw) window view of x padded by `padding`."""
    check_channels(x.shape, fshape)
    check_fits(op, x.shape, fshape[2:], padding)
    _, _, oh, ow = output_shape(x.shape, fshape, stride, padding)
    xp = padded(x, (2, 3), padding)
    view = sliding_window_view(xp, fshape[2:], axis=(2, 3))
    return view[:, :, :: stride[0], :: stride[1]][:, :, :oh, :ow]


def output_shape(x_shape: tuple, w_shape: tuple, stride: tuple, padding: tuple) -> tuple:
    oh, ow = (
        output_length(n, k, s, p) for n, k, s, p in zip(x_shape[2:], w_shape[2:], stride, padding)
    )
    return (x_shape[0], w_shape[0], oh, ow)


@dataclass(frozen=True)
class DirectConv2d(Op):
    """conv2d(x, w) of an (N, C, H, W) input and (O, C, kh, kw) filters, no columns."""

    stride: tuple
    padding: tuple

    @property
    def name(self) -> str:
        return "conv2d_direct"

    def infer(self, x, w):
        check_channels(x.type.shape, w.type.shape)
        check_fits("conv2d", x, w.type.shape[2:], self.padding)
        shape = output_shape(x.type.shape, w.type.shape, self.stride, self.padding)
        return [TensorType(x.dtype, shape)]

    def perform(self, x, w):
        view = windows("conv2d", x, w.shape, self.stride, self.padding)
        out = np.tensordot(view, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, OH, OW, O)
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2), dtype=x.dtype)

    def grad(self, inputs, outputs, output_grads):
        x, w = inputs
        g = output_grads[0]
        return [
            input_grad(w, g, x, self.stride, self.padding),
            DirectConv2dFilterGrad(self.stride, self.padding)(x, g, w),
        ]


@dataclass(frozen=True)
class DirectConv2dFilterGrad(Op):
    """The gradient of conv2d_direct(x, w) with respect to w, from x and the output's gradient
    g (N, O, OH, OW); w is read for its shape only."""

    stride: tuple
    padding: tuple

    @property
    def name(self) -> str:
        return "conv2d_filter_grad"

    def infer(self, x, g, w):
        check_channels(x.type.shape, w.type.shape)
        return [TensorType(x.dtype, w.type.shape)]

    def perform(self, x, g, w):
        view = windows("conv2d_filter_grad", x, w.shape, self.stride, self.padding)
        want = output_shape(x.shape, w.shape, self.stride, self.padding)
        if g.shape != want:
            raise ValueError(
                f"conv2d_filter_grad: the gradient has shape {g.shape}, the convolution of "
                f"{x.shape} by {w.shape} gives {want}"
            )
        out = np.tensordot(g, view, axes=([0, 2, 3], [0, 2, 3]))  # (O, C, kh, kw)
        return np.ascontiguousarray(out, dtype=x.dtype)

    def grad(self, inputs, outputs, output_grads):
        x, g, w = inputs
        og = output_grads[0]  # shaped as w
        return [
            input_grad(og, g, x, self.stride, self.padding),
            DirectConv2d(self.stride, self.padding)(x, og),
            None,
        ]


def input_grad(w, g, x, stride: tuple, padding: tuple):
    """∂/∂x of Σ g · conv2d(x, w): the columns' gradient wᵀ·g[n] of each image (K, OH·OW),
    added back to the input positions by col2im (batch-outermost columns)."""
    rows = [dim(g, 0), dim(g, 1), Size((2, 3))(g)]
    cols = matmul(dimshuffle(flatten(w, 2), 1, 0), reshape(g, rows))  # (N, C·kh·kw, OH·OW)
    k = Size((1, 2, 3))(w)
    cols = reshape(cols, [dim(g, 0), k, dim(g, 2), dim(g, 3)])
    return Col2im(stride, padding, batch_inner=False)(cols, shape_of(x), shape_of(w))


def direct_wanted(x, w) -> bool:
    """Whether conv2d(x, w) runs directly: x is data (a graph input: its columns would be
    batch-outermost, conv.py), x and w share a float dtype, and the number of channels is
    known (from either static shape, or shared filters' value) and at most
    DIRECT_MAX_CHANNELS."""
    channels = x.type.shape[1] if x.type.shape[1] is not None else w.type.shape[1]
    if channels is None and hasattr(w, "get_value"):
        channels = w.get_value(borrow=True).shape[1]
    return (
        x.owner is None
        and x.dtype == w.dtype
        and x.dtype in ("float32", "float64")
        and channels is not None
        and channels <= DIRECT_MAX_CHANNELS
    )
