"""Building blocks of the tutorial models: parameters, layers, and the SGD update rule.

Each layer function takes a symbolic input and returns its symbolic output together with the
shared variables (the parameters) it created, so that a model is a few lines of composition and
its parameter list is the concatenation of its layers' lists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import symbolic as S
from symbolic.windows import output_length


def he_normal(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    """Normal weights with variance 2 / fan_in: keeps activations' scale through ReLU layers."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def dense(
    x: S.Variable,
    n_in: int,
    n_out: int,
    rng: np.random.Generator | None,
    name: str,
    activation: Callable[[S.Variable], S.Variable] | None = None,
) -> tuple[S.Variable, list[S.SharedVariable]]:
    """activation(x @ W + b) for a (batch, n_in) input; W, b are new shared variables.

    `rng` None starts W at zero (enough for a convex model such as softmax regression); else W
    is drawn by `he_normal`. b starts at zero.
    """
    shape = (n_in, n_out)
    start = np.zeros(shape, np.float32) if rng is None else he_normal(rng, shape, n_in)
    W = S.shared(start, name=f"{name}.W")
    b = S.shared(np.zeros(n_out, np.float32), name=f"{name}.b")
    y = x @ W + b
    return (y if activation is None else activation(y)), [W, b]


def conv_pool(
    x: S.Variable,
    n_in: int,
    n_out: int,
    size: int,
    rng: np.random.Generator,
    name: str,
    padding: int = 0,
    pool: int = 2,
    activation: Callable[[S.Variable], S.Variable] | None = None,
) -> tuple[S.Variable, list[S.SharedVariable]]:
    """activation(max_pool(conv2d(x, W), pool) + b): LeNet's convolution and pooling layer.

    x is (batch, n_in, rows, cols); W is n_out filters of n_in × size × size, He-initialized
    (fan-in n_in·size²), b one bias per filter, zero at the start; `padding` zeros are added
    on each side before the convolution. The output is (batch, n_out, r, c) with
    r = `conv_pool_length(rows, size, padding, pool)` and c likewise.

    The bias and the activation come after the pooling, where there are pool² times fewer
    values, and give the same result: a bias that is one number per channel moves every value
    of a window alike, max(z + b) = max(z) + b, and a non-decreasing activation f (ReLU, tanh,
    the sigmoid) keeps the order inside a window, max f(z) = f(max z).
    """
    W = S.shared(he_normal(rng, (n_out, n_in, size, size), n_in * size * size), name=f"{name}.W")
    b = S.shared(np.zeros(n_out, np.float32), name=f"{name}.b")
    pooled = S.nnet.max_pool2d(S.nnet.conv2d(x, W, padding=padding), pool)
    y = pooled + b.dimshuffle("x", 0, "x", "x")
    return (y if activation is None else activation(y)), [W, b]


def conv_pool_length(n: int, size: int, padding: int = 0, pool: int = 2) -> int:
    """Rows (or columns) out of `conv_pool` for n in: the convolution's, then the pooling's."""
    return output_length(output_length(n, size, 1, padding), pool, pool, 0)


def sgd_updates(
    cost: S.Variable,
    params: Sequence[S.SharedVariable],
    learning_rate: S.Variable | float,
    momentum: float = 0.0,
    grads: Sequence[S.Variable] | None = None,
) -> list[tuple[S.SharedVariable, S.Variable]]:
    """Minibatch SGD with (heavy-ball) momentum as `compile` updates.

    v ← μ·v − η·∂cost/∂p, then p ← p + v, with one velocity v per parameter (a new shared
    variable, zero at the start). With μ = 0 this is plain SGD, p ← p − η·∂cost/∂p, and no
    velocities are made. All updates use the values before the call, so p's update is written
    with the new velocity's expression, not the shared velocity. `grads` replaces
    ∂cost/∂p where given (data-parallel training passes the gradients summed over ranks).
    """
    grads = S.grad(cost, list(params)) if grads is None else list(grads)
    updates = []
    for p, g in zip(params, grads):
        step = -learning_rate * g
        if momentum:
            velocity = S.shared(np.zeros_like(p.get_value()), name=f"{p.name}.velocity")
            step = momentum * velocity + step
            updates.append((velocity, step))
        updates.append((p, p + step))
    return updates


def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random n×n orthogonal matrix (Q of a Gaussian's QR, signs fixed so Q is uniform)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * np.sign(np.diag(r))).astype(np.float32)


def lstm(
    x: S.Variable,
    n_in: int,
    n_hidden: int,
    rng: np.random.Generator,
    name: str,
    forget_bias: float = 1.0,
) -> tuple[S.Variable, list[S.SharedVariable]]:
    """The hidden states of an LSTM run over `x`, shaped (time, batch, n_in), by `S.scan`.

    One step, from h = c = 0, with the four gates computed by one product each of the input
    and the state (columns in the order i, f, g, o)::

        z = x[t] @ Wx + h @ Wh + b
        i, f, o = σ(z_i), σ(z_f), σ(z_o);  g = tanh(z_g)
        c' = f·c + i·g;  h' = o·tanh(c')

    Returns the stacked h' of every step, (time, batch, n_hidden), and [Wx, Wh, b]. Wx is drawn
    with variance 1 / n_in, each gate's block of Wh is orthogonal (the state's scale neither
    grows nor shrinks through the product), and b is zero except the forget gate's `forget_bias`.
    Along the cell, ∂c'/∂c = f, so the gradient reaching step t from step T is scaled by the
    product of T − t forget gates: at bias 1 they start at σ(1) ≈ 0.73, not 0.5, and 27 steps
    (MNIST's rows) scale it by 2·10⁻⁴ rather than 7·10⁻⁹, so the first rows train from the start.
    """
    gates = 4 * n_hidden
    Wx = S.shared(
        (rng.standard_normal((n_in, gates)) / np.sqrt(n_in)).astype(np.float32), name=f"{name}.Wx"
    )
    Wh = S.shared(
        np.concatenate([orthogonal(rng, n_hidden) for _ in range(4)], axis=1), name=f"{name}.Wh"
    )
    start = np.zeros(gates, np.float32)
    start[n_hidden : 2 * n_hidden] = forget_bias
    b = S.shared(start, name=f"{name}.b")
    n = n_hidden

    def lstm_step(x_t, h, c):
        z = x_t @ Wx + h @ Wh + b  # x_t @ Wx moves out of the loop: one product over all t
        i, f = S.sigmoid(z[:, :n]), S.sigmoid(z[:, n : 2 * n])
        g, o = S.tanh(z[:, 2 * n : 3 * n]), S.sigmoid(z[:, 3 * n :])
        c = f * c + i * g
        return o * S.tanh(c), c

    zeros = S.zeros((x.shape[1], n_hidden))
    (hidden, _), _ = S.scan(lstm_step, sequences=[x], outputs_info=[zeros, zeros])
    return hidden, [Wx, Wh, b]
