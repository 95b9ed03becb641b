"""R1: an LSTM layer over T=50 steps, batch 32, input 128, hidden 256, float32: the forward pass
and the gradients of the loss with respect to every weight, for us and every peer.

The cell, with gates in PyTorch's order (i, f, g, o) so that nn.LSTM holds the same weights:
    z = x[t] @ Wx + h @ Wh + b;  i, f, o = σ(z_i), σ(z_f), σ(z_o);  g = tanh(z_g)
    c' = f·c + i·g;  h' = o·tanh(c')
from h = c = 0. The loss is Σ_t Σ h[t]·R[t] / (T·batch) for a fixed random R. Every builder
returns a call giving (loss, ∂/∂Wx, ∂/∂Wh, ∂/∂b), checked against the float64 NumPy reference
(`lstm_numpy`, written out by hand, is also the NumPy peer).

R2: the same layer with hidden 320 at batch 64 (T=50, input 128). The builders read every size
from the arrays they are given (`LstmSizes.of`); `LstmSizes` holds the sizes that make those.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LstmSizes:
    steps: int  # T
    batch: int
    input: int
    hidden: int

    @classmethod
    def of(cls, params, x) -> LstmSizes:
        """The sizes of a builder's arrays: x is (T, batch, input), Wh is (hidden, 4·hidden)."""
        steps, batch, features = x.shape
        return cls(steps, batch, features, params[1].shape[0])

    def astuple(self) -> tuple:
        return self.steps, self.batch, self.input, self.hidden


LSTM = LstmSizes(steps=50, batch=32, input=128, hidden=256)
WIDE_LSTM = LstmSizes(steps=50, batch=64, input=128, hidden=320)


def lstm_inputs(seed: int = 0, sizes: LstmSizes = LSTM):
    """(params [Wx, Wh, b], x, R)."""
    rng = np.random.default_rng(seed)
    t, batch, features, hidden = sizes.steps, sizes.batch, sizes.input, sizes.hidden
    scale = 1 / np.sqrt(hidden)
    params = [
        rng.uniform(-scale, scale, (features, 4 * hidden)).astype(np.float32),
        rng.uniform(-scale, scale, (hidden, 4 * hidden)).astype(np.float32),
        rng.uniform(-scale, scale, 4 * hidden).astype(np.float32),
    ]
    x = rng.standard_normal((t, batch, features)).astype(np.float32)
    readout = rng.standard_normal((t, batch, hidden)).astype(np.float32)
    return params, x, readout


def flat(result) -> np.ndarray:
    """(loss, gradients…) as one float64 vector, for the comparison with the reference."""
    return np.concatenate([np.ravel(np.asarray(r, dtype=np.float64)) for r in result])


def lstm_numpy(params, x, readout, dtype=np.float32):
    """The forward pass and backpropagation through time written out by hand."""
    wx, wh, b = (p.astype(dtype) for p in params)
    x, readout = x.astype(dtype), readout.astype(dtype)
    steps, batch, features, n = LstmSizes.of(params, x).astuple()
    scale = dtype(1 / (steps * batch))

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    def run():
        projected = (x.reshape(-1, features) @ wx).reshape(steps, batch, 4 * n)
        h, c = np.zeros((batch, n), dtype), np.zeros((batch, n), dtype)
        saved, loss = [], 0.0
        for t in range(steps):
            z = projected[t] + h @ wh + b
            i, f, g, o = (
                sigmoid(z[:, :n]),
                sigmoid(z[:, n : 2 * n]),
                np.tanh(z[:, 2 * n : 3 * n]),
                sigmoid(z[:, 3 * n :]),
            )
            c_new = f * c + i * g
            tc = np.tanh(c_new)
            saved.append((h, c, i, f, g, o, tc))
            h, c = o * tc, c_new
            loss += float((h * readout[t]).sum())
        dz_all = np.empty((steps, batch, 4 * n), dtype)
        dh, dc = np.zeros((batch, n), dtype), np.zeros((batch, n), dtype)
        for t in reversed(range(steps)):
            h_prev, c_prev, i, f, g, o, tc = saved[t]
            dh = dh + readout[t] * scale
            do = dh * tc
            dc = dc + dh * o * (1 - tc * tc)
            dz = dz_all[t]
            dz[:, :n] = dc * g * i * (1 - i)
            dz[:, n : 2 * n] = dc * c_prev * f * (1 - f)
            dz[:, 2 * n : 3 * n] = dc * i * (1 - g * g)
            dz[:, 3 * n :] = do * o * (1 - o)
            dh, dc = dz @ wh.T, dc * f
        h_prev = np.stack([s[0] for s in saved]).reshape(-1, n)
        rows = dz_all.reshape(-1, 4 * n)
        return loss * scale, x.reshape(-1, features).T @ rows, h_prev.T @ rows, rows.sum(0)

    return run


def lstm_reference(params, x, readout) -> np.ndarray:
    return flat(lstm_numpy(params, x, readout, np.float64)())


def lstm_ours(device: str, params, x, readout):
    import symbolic as S

    wx, wh, b = (S.shared(p.copy(), name) for p, name in zip(params, ("Wx", "Wh", "b")))
    sx, sr = S.tensor3("x"), S.tensor3("readout")
    sizes = LstmSizes.of(params, x)
    n = sizes.hidden

    def step(x_t, h, c):
        z = x_t @ wx + h @ wh + b
        i, f = S.sigmoid(z[:, :n]), S.sigmoid(z[:, n : 2 * n])
        g, o = S.tanh(z[:, 2 * n : 3 * n]), S.sigmoid(z[:, 3 * n :])
        c = f * c + i * g
        return o * S.tanh(c), c

    zeros = S.zeros((sx.shape[1], n))
    (hs, _), _ = S.scan(step, sequences=[sx], outputs_info=[zeros, zeros])
    loss = (hs * sr).sum() / (sizes.steps * sizes.batch)
    f = S.compile([sx, sr], [loss, *S.grad(loss, [wx, wh, b])], device=device)
    return lambda: f(x, readout)


def lstm_jax(params, x, readout):
    import jax
    import jax.numpy as jnp

    sizes = LstmSizes.of(params, x)
    n = sizes.hidden

    def loss(ps, x, readout):
        wx, wh, b = ps
        projected = x @ wx

        def step(carry, z_x):
            h, c = carry
            z = z_x + h @ wh + b
            i, f = jax.nn.sigmoid(z[:, :n]), jax.nn.sigmoid(z[:, n : 2 * n])
            g, o = jnp.tanh(z[:, 2 * n : 3 * n]), jax.nn.sigmoid(z[:, 3 * n :])
            c = f * c + i * g
            h = o * jnp.tanh(c)
            return (h, c), h

        zeros = jnp.zeros((x.shape[1], n), x.dtype)
        _, hs = jax.lax.scan(step, (zeros, zeros), projected)
        return (hs * readout).sum() / (sizes.steps * sizes.batch)

    step = jax.jit(jax.value_and_grad(loss))
    ps = [jax.device_put(p) for p in params]
    jx, jr = jax.device_put(x), jax.device_put(readout)

    def run():
        value, grads = step(ps, jx, jr)
        return jax.block_until_ready((value, *grads))

    return run


def lstm_torch(params, x, readout):
    import torch

    wx, wh, b = params
    sizes = LstmSizes.of(params, x)
    lstm = torch.nn.LSTM(sizes.input, sizes.hidden)
    with torch.no_grad():  # nn.LSTM computes x W_ihᵀ + b_ih + h W_hhᵀ + b_hh
        lstm.weight_ih_l0.copy_(torch.from_numpy(wx.T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(wh.T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b))
        lstm.bias_hh_l0.zero_()
    weights = [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0]
    tx, tr = torch.from_numpy(x), torch.from_numpy(readout)

    def run():
        hs, _ = lstm(tx)
        loss = (hs * tr).sum() / (sizes.steps * sizes.batch)
        gx, gh, gb = torch.autograd.grad(loss, weights)
        return loss.detach(), gx.T, gh.T, gb

    return run


def lstm_pytensor(params, x, readout):
    import pytensor
    import pytensor.tensor as pt

    wx, wh, b = (pytensor.shared(p.copy(), name) for p, name in zip(params, ("Wx", "Wh", "b")))
    px, pr = pt.tensor3("x", dtype="float32"), pt.tensor3("readout", dtype="float32")
    sizes = LstmSizes.of(params, x)
    n = sizes.hidden

    def step(z_x, h, c):
        z = z_x + pt.dot(h, wh) + b
        i, f = pt.sigmoid(z[:, :n]), pt.sigmoid(z[:, n : 2 * n])
        g, o = pt.tanh(z[:, 2 * n : 3 * n]), pt.sigmoid(z[:, 3 * n :])
        c = f * c + i * g
        return o * pt.tanh(c), c

    zeros = pt.zeros((px.shape[1], n), dtype="float32")
    (hs, _), _ = pytensor.scan(step, sequences=[pt.dot(px, wx)], outputs_info=[zeros, zeros])
    loss = (hs * pr).sum() / np.float32(sizes.steps * sizes.batch)
    f = pytensor.function([px, pr], [loss, *pytensor.grad(loss, [wx, wh, b])])
    return lambda: f(x, readout)


def lstm_spec(sizes: LstmSizes) -> dict:
    """The workload (run.py's spec) of the LSTM layer of `sizes`."""
    return {
        "inputs": functools.partial(lstm_inputs, sizes=sizes),
        "reference": lstm_reference,
        "ours": lstm_ours,
        "peers": {
            "numpy": lstm_numpy,
            "pytensor": lstm_pytensor,
            "jax": lstm_jax,
            "torch": lstm_torch,
        },
        "result": flat,
        "size": f"LSTM T={sizes.steps}, batch {sizes.batch}, input {sizes.input}, hidden "
        f"{sizes.hidden}, float32: loss and gradients of Wx, Wh, b",
    }


R1 = lstm_spec(LSTM)
R2 = lstm_spec(WIDE_LSTM)
