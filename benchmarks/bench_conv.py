"""C1: one SGD training step of LeNet on 28×28 images, batch 64, float32, for us and each peer.

The network: conv 20 5×5 (+ bias) → max-pool 2 → conv 50 5×5 (+ bias) → max-pool 2 →
dense 500 ReLU → dense 10, softmax cross-entropy on int64 labels, SGD with learning rate 0.01.
Every builder starts from the same parameters and batch and returns a step that updates its
parameters and returns the loss of the batch before the update; the first call's loss is
compared with the float64 reference, as in M1 (bench_mlp.py).

C2: the same step on a small CNN for 32×32 RGB images, batch 64: conv 32 5×5 → max-pool 2 →
conv 64 3×3 → max-pool 2 → dense 256 ReLU → dense 10. The builders read every size from the
parameters and images they are given; `ConvNet` holds the sizes that make those.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from bench_mlp import jax_sgd_step, torch_sgd_step

LR = 0.01  # 0.1 diverges to NaN within 6 steps on these images (NaN arithmetic would skew times)
# The parameters in the order the builders take them
NAMES = ("conv0_w", "conv0_b", "conv1_w", "conv1_b", "dense0_w", "dense0_b", "dense1_w", "dense1_b")


@dataclass(frozen=True)
class ConvNet:
    """The sizes of conv → max-pool 2 → conv → max-pool 2 → dense ReLU → dense (valid
    convolutions, stride 1)."""

    batch: int
    image: tuple  # (channels, height, width)
    convs: tuple  # ((filters, kernel size), (filters, kernel size))
    hidden: int
    classes: int = 10

    @property
    def params(self) -> tuple:
        """(name, shape, fan-in) of each parameter, in NAMES's order; fan-in None for biases."""
        channels, height, width = self.image
        shapes = []
        for filters, k in self.convs:
            # a valid k×k convolution drops k − 1 rows; the pool halves what is left
            height, width = height - k + 1, width - k + 1
            if height % 2 or width % 2:
                raise ValueError(f"{self}: a pool of 2 over an odd {height}×{width} map")
            shapes += [((filters, channels, k, k), channels * k * k), ((filters,), None)]
            channels, height, width = filters, height // 2, width // 2
        flat = channels * height * width
        shapes += [((flat, self.hidden), flat), ((self.hidden,), None)]
        shapes += [((self.hidden, self.classes), self.hidden), ((self.classes,), None)]
        return tuple((name, shape, fan_in) for name, (shape, fan_in) in zip(NAMES, shapes))


LENET = ConvNet(batch=64, image=(1, 28, 28), convs=((20, 5), (50, 5)), hidden=500)
SMALL_CNN = ConvNet(batch=64, image=(3, 32, 32), convs=((32, 5), (64, 3)), hidden=256)


def lenet_inputs(seed: int = 0, net: ConvNet = LENET):
    """(params, x, labels): He-scaled float32 weights, zero biases, images uniform in [0, 1)."""
    rng = np.random.default_rng(seed)
    params = [
        (rng.standard_normal(shape) * np.sqrt(2 / fan_in)).astype(np.float32)
        if fan_in
        else np.zeros(shape, np.float32)
        for _, shape, fan_in in net.params
    ]
    x = rng.random((net.batch, *net.image), dtype=np.float32)
    labels = rng.integers(0, net.classes, net.batch).astype(np.int64)
    return params, x, labels


def lenet_reference(params, x, labels) -> float:
    """The loss of the batch under the initial parameters, in float64, written directly."""
    from numpy.lib.stride_tricks import sliding_window_view

    def conv(h, w, b):
        windows = sliding_window_view(h, w.shape[2:], axis=(2, 3))  # (N, C, OH, OW, kh, kw)
        return np.einsum("ncabij,ocij->noab", windows, w) + b[None, :, None, None]

    def pool(h):
        n, c, hh, ww = h.shape
        return h.reshape(n, c, hh // 2, 2, ww // 2, 2).max(axis=(3, 5))

    p = [a.astype(np.float64) for a in params]
    h = pool(conv(x.astype(np.float64), p[0], p[1]))
    h = pool(conv(h, p[2], p[3])).reshape(len(x), -1)
    h = np.maximum(h @ p[4] + p[5], 0) @ p[6] + p[7]
    h = h - h.max(axis=1, keepdims=True)
    logp = h - np.log(np.exp(h).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


def lenet_ours(device: str, params, x, labels):
    import symbolic as S

    sx, sy = S.tensor("x", "float32", (None, *x.shape[1:])), S.vector("y", dtype="int64")
    w = [S.shared(p.copy(), name) for p, name in zip(params, NAMES)]

    def bias(b):
        return b.dimshuffle("x", 0, "x", "x")

    h = S.nnet.max_pool2d(S.nnet.conv2d(sx, w[0]) + bias(w[1]), 2)
    h = S.nnet.max_pool2d(S.nnet.conv2d(h, w[2]) + bias(w[3]), 2).flatten(2)
    h = S.nnet.relu(h @ w[4] + w[5]) @ w[6] + w[7]
    cost = S.nnet.categorical_crossentropy(S.nnet.softmax(h), sy).mean()
    grads = S.grad(cost, w)
    f = S.compile(
        [sx, sy], cost, updates=[(p, p - LR * g) for p, g in zip(w, grads)], device=device
    )
    return lambda: f(x, labels)


def lenet_torch(params, x, labels):
    import torch
    import torch.nn.functional as F

    def logits(ps, h):
        h = F.max_pool2d(F.conv2d(h, ps[0], ps[1]), 2)
        h = F.max_pool2d(F.conv2d(h, ps[2], ps[3]), 2).flatten(1)
        return torch.addmm(ps[7], torch.relu(torch.addmm(ps[5], h, ps[4])), ps[6])

    return torch_sgd_step(logits, params, x, labels, LR)


def lenet_jax(params, x, labels):
    import jax
    import jax.numpy as jnp
    from jax import lax

    def conv(h, w, b):
        layout = ("NCHW", "OIHW", "NCHW")
        out = lax.conv_general_dilated(h, w, (1, 1), "VALID", dimension_numbers=layout)
        return out + b[None, :, None, None]

    def pool(h):
        return lax.reduce_window(h, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss(ps, x, y):
        h = pool(conv(x, ps[0], ps[1]))
        h = pool(conv(h, ps[2], ps[3])).reshape(x.shape[0], -1)
        h = jax.nn.relu(h @ ps[4] + ps[5]) @ ps[6] + ps[7]
        logp = jax.nn.log_softmax(h, axis=1)
        return -jnp.take_along_axis(logp, y[:, None], axis=1).mean()

    return jax_sgd_step(loss, params, x, labels, LR)


def lenet_pytensor(params, x, labels):
    """PyTensor with im2col written as slices (its own convolution is far slower, see README)."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.tensor.special import log_softmax

    def conv(h, w, b, k):
        n, c, oh, ow = h.shape[0], h.shape[1], h.shape[2] - k + 1, h.shape[3] - k + 1
        windows = [h[:, :, i : i + oh, j : j + ow] for i in range(k) for j in range(k)]
        cols = pt.stack(windows, axis=2).reshape((n, c * k * k, oh * ow))  # (N, C·k·k, P)
        out = pt.tensordot(w.reshape((w.shape[0], -1)), cols, axes=[[1], [1]])  # (O, N, P)
        return out.dimshuffle(1, 0, 2).reshape((n, w.shape[0], oh, ow)) + b.dimshuffle(
            "x", 0, "x", "x"
        )

    def pool(h):
        n, c, hh, ww = h.shape
        return h.reshape((n, c, hh // 2, 2, ww // 2, 2)).max(axis=(3, 5))

    px, py = pt.tensor4("x", dtype="float32"), pt.vector("y", dtype="int64")
    shared = [pytensor.shared(p.copy(), name) for p, name in zip(params, NAMES)]
    h = pool(conv(px, shared[0], shared[1], params[0].shape[-1]))
    h = pool(conv(h, shared[2], shared[3], params[2].shape[-1])).flatten(2)
    h = pt.dot(pt.maximum(pt.dot(h, shared[4]) + shared[5], 0), shared[6]) + shared[7]
    cost = -log_softmax(h, axis=1)[pt.arange(py.shape[0]), py].mean()
    grads = pytensor.grad(cost, shared)
    lr = np.float32(LR)
    f = pytensor.function([px, py], cost, updates=[(p, p - lr * g) for p, g in zip(shared, grads)])
    return lambda: f(x, labels)


def lenet_spec(net: ConvNet, title: str) -> dict:
    """The workload (run.py's spec) of the SGD step of `net`, described as `title`."""
    (c0, k0), (c1, k1) = net.convs
    channels, height, width = net.image
    return {
        "inputs": functools.partial(lenet_inputs, net=net),
        "reference": lenet_reference,
        "ours": lenet_ours,
        "peers": {"pytensor": lenet_pytensor, "jax": lenet_jax, "torch": lenet_torch},
        "size": (
            f"{title} conv{c0} {k0}x{k0}-pool2-conv{c1} {k1}x{k1}-pool2-dense{net.hidden} relu-"
            f"dense{net.classes}, batch {net.batch}, {height}x{width}x{channels}, SGD lr "
            f"{LR}, float32, int64 labels"
        ),
    }


C1 = lenet_spec(LENET, "LeNet")
C2 = lenet_spec(SMALL_CNN, "CNN")
