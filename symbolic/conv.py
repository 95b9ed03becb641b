"""2-d convolution as im2col and one matrix product (`S.nnet.conv2d`).

conv2d(x, w)[n, o, a, b] = Σ_{c,i,j} w[o, c, i, j] · xp[n, c, sh·a + i, sw·b + j], with xp the
input padded by zeros: the cross-correlation of deep-learning libraries (no kernel flip).

The graph is `im2col` (every window of the input as one column) and a `dot` with the filters
flattened to a (O, C·kh·kw) matrix. The columns come in two layouts:
- batch innermost, (C·kh·kw, OH, OW, N), for a computed input: a window row is a contiguous
  run of OW·N values, so im2col copies, and col2im (its adjoint, which the input gradient
  needs) adds, long runs instead of runs of OW (on LeNet's second layer: im2col 1.0 → 0.2 ms,
  col2im 7 → 1.4 ms), and the product is one large GEMM; the result, (O, OH, OW, N), is then
  transposed to NCHW (a view: the next elementwise kernel reads it in place).
- batch outermost, (N, C·kh·kw, OH, OW), for an input that is a graph input (data, whose
  gradient is rarely wanted): one product per image gives NCHW directly, with no transposition
  of the output forward or of its gradient backward (1.3 ms less on LeNet's first layer).

Gradients come from the graph: the dot's rules give the filters' gradient and the columns'
gradient, and col2im scatters the latter back to the input. im2col and col2im are linear and
each other's adjoint, so derivatives of every order exist.

The timings above are of the NumPy references; the cpu device runs both ops as C kernels
(symbolic/codegen/c_windows.py), which copy and add the same runs (LeNet's second layer:
im2col 0.45 ms, col2im 0.45 ms).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from symbolic.graph import TensorType, Variable, as_variable
from symbolic.linalg import matmul, tensordot
from symbolic.op import Op
from symbolic.shape import Size, dim, dimshuffle, flatten, reshape, shape_of, static_entries
from symbolic.windows import as_pair, check_fits, cropped, output_length, padded, window_slice

# The two column layouts: memory order of the input's axes (as NCHW axis numbers) and the axes
# of the window view, whose (c, kh, kw) axes merge into the K = C·kh·kw axis of the columns.
LAYOUTS = {
    True: ((1, 2, 3, 0), ("c", "kh", "kw", "oh", "ow", "n")),  # batch innermost (C, H, W, N)
    False: ((0, 1, 2, 3), ("n", "c", "kh", "kw", "oh", "ow")),  # batch outermost (N, C, H, W)
}


def _known_product(*sizes) -> int | None:
    return None if None in sizes else int(np.prod(sizes))


def check_channels(input_shape: tuple, filter_shape: tuple) -> None:
    c, fc = input_shape[1], filter_shape[1]
    if c is not None and fc is not None and c != fc:
        raise ValueError(
            f"conv2d: the input of shape {input_shape} has {c} channels but the filters of "
            f"shape {filter_shape} (out channels, in channels, rows, columns) take {fc}"
        )


@dataclass(frozen=True)
class Columns(Op):
    """What im2col and col2im share: the window geometry and the column layout.

    batch_inner: columns (C·kh·kw, OH, OW, N), batch innermost; else (N, C·kh·kw, OH, OW)."""

    stride: tuple
    padding: tuple
    batch_inner: bool = True

    def sizes(self, input_shape: tuple, filter_shape: tuple) -> dict:
        """The size of every axis name of LAYOUTS (None where unknown)."""
        n, c, h, w = input_shape
        kh, kw = filter_shape[2:]
        oh = output_length(h, kh, self.stride[0], self.padding[0])
        ow = output_length(w, kw, self.stride[1], self.padding[1])
        return {"n": n, "c": c, "kh": kh, "kw": kw, "oh": oh, "ow": ow}

    def columns_shape(self, sizes: dict) -> tuple:
        n, oh, ow = sizes["n"], sizes["oh"], sizes["ow"]
        k = _known_product(sizes["c"], sizes["kh"], sizes["kw"])
        return (k, oh, ow, n) if self.batch_inner else (n, k, oh, ow)

    def memory_axes(self) -> tuple[tuple, tuple]:
        """The input's axes in memory order, and where its rows and columns axes are there."""
        order = LAYOUTS[self.batch_inner][0]
        return order, (order.index(2), order.index(3))

    def windows_of(self, xl: np.ndarray, sizes: dict) -> np.ndarray:
        """The read-only window view of the padded input `xl` stored in the layout's order."""
        order, _ = self.memory_axes()
        step = dict(zip(("n", "c", "h", "w"), (xl.strides[order.index(a)] for a in range(4))))
        strides = {"n": step["n"], "c": step["c"], "kh": step["h"], "kw": step["w"]}
        strides.update(oh=step["h"] * self.stride[0], ow=step["w"] * self.stride[1])
        names = LAYOUTS[self.batch_inner][1]
        return as_strided(
            xl, [sizes[a] for a in names], [strides[a] for a in names], writeable=False
        )


@dataclass(frozen=True)
class Im2col(Columns):
    """Every window of x (N, C, H, W) as a column: cols[(c, i, j), a, b, n] (or
    cols[n, (c, i, j), a, b]) = xp[n, c, sh·a + i, sw·b + j]; the window size is taken from
    the filter shape (O, C, kh, kw) given as the second input."""

    def infer(self, x, filter_shape):
        fshape = static_entries(filter_shape)
        check_channels(x.type.shape, fshape)
        check_fits("conv2d", x, fshape[2:], self.padding)
        sizes = self.sizes(x.type.shape, fshape)
        sizes["c"] = sizes["c"] if sizes["c"] is not None else fshape[1]
        return [TensorType(x.dtype, self.columns_shape(sizes))]

    def perform(self, x, filter_shape):
        fshape = tuple(int(v) for v in filter_shape)
        check_channels(x.shape, fshape)
        check_fits("conv2d", x.shape, fshape[2:], self.padding)
        sizes = self.sizes(x.shape, fshape)
        order, spatial = self.memory_axes()
        xl = np.ascontiguousarray(padded(x.transpose(order), spatial, self.padding))
        windows = self.windows_of(xl, sizes)
        cols = np.empty(self.columns_shape(sizes), x.dtype)
        cols.reshape(windows.shape)[...] = windows
        return cols

    def grad(self, inputs, outputs, output_grads):
        x, filter_shape = inputs
        col2im = Col2im(self.stride, self.padding, self.batch_inner)
        return [col2im(output_grads[0], shape_of(x), filter_shape), None]


@dataclass(frozen=True)
class Col2im(Columns):
    """The adjoint of im2col: each column's values added back to the input positions its
    window covers, giving a tensor of `input_shape` (N, C, H, W)."""

    def infer(self, cols, input_shape, filter_shape):
        return [TensorType(cols.dtype, static_entries(input_shape))]

    def perform(self, cols, input_shape, filter_shape):
        shape = tuple(int(v) for v in input_shape)
        sizes = self.sizes(shape, tuple(int(v) for v in filter_shape))
        order, spatial = self.memory_axes()
        xl = np.zeros([shape[a] for a in order], cols.dtype)
        xl = padded(xl, spatial, self.padding)
        names = LAYOUTS[self.batch_inner][1]
        windows = cols.reshape([sizes[a] for a in names])
        at, rows_at = [slice(None)] * 6, [slice(None)] * 4
        for i in range(sizes["kh"]):
            rows_at[spatial[0]] = window_slice(i, self.stride[0], sizes["oh"])
            for j in range(sizes["kw"]):
                rows_at[spatial[1]] = window_slice(j, self.stride[1], sizes["ow"])
                at[names.index("kh")], at[names.index("kw")] = i, j
                xl[tuple(rows_at)] += windows[tuple(at)]
        return cropped(xl, spatial, self.padding).transpose(np.argsort(order))

    def grad(self, inputs, outputs, output_grads):
        _, _, filter_shape = inputs
        im2col = Im2col(self.stride, self.padding, self.batch_inner)
        return [im2col(output_grads[0], filter_shape), None, None]


# named paddings: the zeros added on each side of an axis for a kernel of length k
NAMED_PADDINGS = {
    "valid": lambda k: 0,  # windows inside the input only: H − k + 1 rows
    "full": lambda k: k - 1,  # every window that overlaps the input: H + k − 1 rows
    "half": lambda k: k // 2,  # H rows for odd k (Theano's "half"; "same" in other libraries)
}


def kernel_size(filters: Variable, filter_shape) -> tuple[int, int]:
    """(kh, kw) known at build time: from `filter_shape`, the static shape, or the current
    value of shared filters (whose shape a later set_value must then keep)."""
    known = tuple(filter_shape)[2:] if filter_shape is not None else filters.type.shape[2:]
    if None in known and hasattr(filters, "get_value"):
        known = filters.get_value(borrow=True).shape[2:]
    if None in known:
        raise ValueError(
            f"conv2d: a named padding needs the filters' size at build time; {filters.describe()} "
            "has none: pass filter_shape=(out, in, rows, columns) or give the filters a static "
            "shape"
        )
    return int(known[0]), int(known[1])


def conv2d(input, filters, stride=1, padding=0, flip: bool = False, filter_shape=None) -> Variable:
    """2-d cross-correlation of NCHW `input` with OIHW `filters` (no bias).

    Parameters
    ----------
    input : (N, C, H, W) tensor.
    filters : (O, C, kh, kw) tensor.
    stride : int or (rows, columns) pair, at least 1.
    padding : int or (rows, columns) pair of zeros added on both sides, at least 0; or
        "valid" (0), "full" (kh − 1, kw − 1) or "half" (kh // 2, kw // 2).
    flip : True gives the convolution proper: the filters flipped along rows and columns
        (Theano's filter_flip=True); False the cross-correlation.
    filter_shape : (O, C, kh, kw) where the filters' static shape does not tell kh and kw and a
        named padding needs them.

    Returns
    -------
    (N, O, OH, OW) tensor with OH = ⌊(H + 2·padding − kh) / stride⌋ + 1, OW likewise.
    Differentiable to any order with respect to both arguments.
    """
    x, w = as_variable(input), as_variable(filters)
    for v, what, layout in (
        (x, "input", "(batch, channels, rows, columns)"),
        (w, "filters", "(out channels, in channels, rows, columns)"),
    ):
        if v.ndim != 4:
            raise ValueError(f"conv2d: the {what} must be 4-d {layout}, got {v.describe()}")
    stride = as_pair(stride, "stride", "conv2d", 1)
    if isinstance(padding, str):
        if padding not in NAMED_PADDINGS:
            raise ValueError(
                f"conv2d: padding must be an int, a pair or one of "
                f"{tuple(NAMED_PADDINGS)}, got {padding!r}"
            )
        padding = tuple(map(NAMED_PADDINGS[padding], kernel_size(w, filter_shape)))
    padding = as_pair(padding, "padding", "conv2d", 0)
    if flip:
        w = w[:, :, ::-1, ::-1]
    # conv_direct imports this module's Col2im, so it is imported here, at first use
    from symbolic.conv_direct import DirectConv2d, direct_wanted

    if direct_wanted(x, w):
        return DirectConv2d(stride, padding)(x, w)
    # The input of a first layer is data, whose gradient is rarely asked for: its columns are
    # kept batch outermost, so the product gives NCHW with no transposition (see above).
    batch_inner = x.owner is not None
    cols = Im2col(stride, padding, batch_inner)(x, shape_of(w))
    if batch_inner:
        out = tensordot(flatten(w, 2), cols, 1)  # (O, OH, OW, N)
        return dimshuffle(out, 3, 0, 1, 2)
    rows = [dim(cols, 0), dim(cols, 1), Size((2, 3))(cols)]
    out = matmul(flatten(w, 2), reshape(cols, rows))  # (N, O, OH·OW): one product per image
    return reshape(out, [dim(cols, 0), dim(w, 0), dim(cols, 2), dim(cols, 3)])
