"""R1: an LSTM layer over T=50 steps, batch 32, input 128, hidden 256, float32: the forward pass
and the gradients of the loss with respect to every weight, for us and every peer.

The cell, with gates in PyTorch's order (i, f, g, o) so that nn.LSTM holds the same weights:
    z = x[t] @ Wx + h @ Wh + b;  i, f, o = σ(z_i), σ(z_f), σ(z_o);  g = tanh(z_g)
    c' = f·c + i·g;  h' = o·tanh(c')
from h = c = 0. The loss is Σ_t Σ h[t]·R[t] / (T·batch) for a fixed random R. Every builder
returns a call giving (loss, ∂/∂Wx, ∂/∂Wh, ∂/∂b), checked against the float64 NumPy reference
(`lstm_numpy`, written out by hand, is also the NumPy peer).
"""

from __future__ import annotations

import numpy as np

T, BATCH, INPUT, HIDDEN = 50, 32, 128, 256


def lstm_inputs(seed: int = 0):
    """(params [Wx, Wh, b], x, R)."""
    rng = np.random.default_rng(seed)
    scale = 1 / np.sqrt(HIDDEN)
    params = [
        rng.uniform(-scale, scale, (INPUT, 4 * HIDDEN)).astype(np.float32),
        rng.uniform(-scale, scale, (HIDDEN, 4 * HIDDEN)).astype(np.float32),
        rng.uniform(-scale, scale, 4 * HIDDEN).astype(np.float32),
    ]
    x = rng.standard_normal((T, BATCH, INPUT)).astype(np.float32)
    readout = rng.standard_normal((T, BATCH, HIDDEN)).astype(np.float32)
    return params, x, readout


def flat(result) -> np.ndarray:
    """(loss, gradients…) as one float64 vector, for the comparison with the reference."""
    return np.concatenate([np.ravel(np.asarray(r, dtype=np.float64)) for r in result])


def lstm_numpy(params, x, readout, dtype=np.float32):
    """The forward pass and backpropagation through time written out by hand."""
    wx, wh, b = (p.astype(dtype) for p in params)
    x, readout = x.astype(dtype), readout.astype(dtype)
    n = HIDDEN
    scale = dtype(1 / (T * BATCH))

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    def run():
        projected = (x.reshape(-1, INPUT) @ wx).reshape(T, BATCH, 4 * n)
        h, c = np.zeros((BATCH, n), dtype), np.zeros((BATCH, n), dtype)
        saved, loss = [], 0.0
        for t in range(T):
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
        dz_all = np.empty((T, BATCH, 4 * n), dtype)
        dh, dc = np.zeros((BATCH, n), dtype), np.zeros((BATCH, n), dtype)
        for t in reversed(range(T)):
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
        return loss * scale, x.reshape(-1, INPUT).T @ rows, h_prev.T @ rows, rows.sum(0)

    return run


def lstm_reference(params, x, readout) -> np.ndarray:
    return flat(lstm_numpy(params, x, readout, np.float64)())


def lstm_ours(device: str, params, x, readout):
    import symbolic as S

    wx, wh, b = (S.shared(p.copy(), name) for p, name in zip(params, ("Wx", "Wh", "b")))
    sx, sr = S.tensor3("x"), S.tensor3("readout")
    n = HIDDEN

    def step(x_t, h, c):
        z = x_t @ wx + h @ wh + b
        i, f = S.sigmoid(z[:, :n]), S.sigmoid(z[:, n : 2 * n])
        g, o = S.tanh(z[:, 2 * n : 3 * n]), S.sigmoid(z[:, 3 * n :])
        c = f * c + i * g
        return o * S.tanh(c), c

    zeros = S.zeros((sx.shape[1], n))
    (hs, _), _ = S.scan(step, sequences=[sx], outputs_info=[zeros, zeros])
    loss = (hs * sr).sum() / (T * BATCH)
    f = S.compile([sx, sr], [loss, *S.grad(loss, [wx, wh, b])], device=device)
    return lambda: f(x, readout)


def lstm_jax(params, x, readout):
    import jax
    import jax.numpy as jnp

    n = HIDDEN

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
        return (hs * readout).sum() / (T * BATCH)

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
    lstm = torch.nn.LSTM(INPUT, HIDDEN)
    with torch.no_grad():  # nn.LSTM computes x W_ihᵀ + b_ih + h W_hhᵀ + b_hh
        lstm.weight_ih_l0.copy_(torch.from_numpy(wx.T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(wh.T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b))
        lstm.bias_hh_l0.zero_()
    weights = [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0]
    tx, tr = torch.from_numpy(x), torch.from_numpy(readout)

    def run():
        hs, _ = lstm(tx)
        loss = (hs * tr).sum() / (T * BATCH)
        gx, gh, gb = torch.autograd.grad(loss, weights)
        return loss.detach(), gx.T, gh.T, gb

    return run


def lstm_pytensor(params, x, readout):
    import pytensor
    import pytensor.tensor as pt

    wx, wh, b = (pytensor.shared(p.copy(), name) for p, name in zip(params, ("Wx", "Wh", "b")))
    px, pr = pt.tensor3("x", dtype="float32"), pt.tensor3("readout", dtype="float32")
    n = HIDDEN

    def step(z_x, h, c):
        z = z_x + pt.dot(h, wh) + b
        i, f = pt.sigmoid(z[:, :n]), pt.sigmoid(z[:, n : 2 * n])
        g, o = pt.tanh(z[:, 2 * n : 3 * n]), pt.sigmoid(z[:, 3 * n :])
        c = f * c + i * g
        return o * pt.tanh(c), c

    zeros = pt.zeros((px.shape[1], n), dtype="float32")
    (hs, _), _ = pytensor.scan(step, sequences=[pt.dot(px, wx)], outputs_info=[zeros, zeros])
    loss = (hs * pr).sum() / np.float32(T * BATCH)
    f = pytensor.function([px, pr], [loss, *pytensor.grad(loss, [wx, wh, b])])
    return lambda: f(x, readout)


R1 = {
    "inputs": lstm_inputs,
    "reference": lstm_reference,
    "ours": lstm_ours,
    "peers": {
        "numpy": lstm_numpy,
        "pytensor": lstm_pytensor,
        "jax": lstm_jax,
        "torch": lstm_torch,
    },
    "result": flat,
    "size": f"LSTM T={T}, batch {BATCH}, input {INPUT}, hidden {HIDDEN}, float32: loss and "
    "gradients of Wx, Wh, b",
}
