"""An LSTM over padded, masked sequences, trained with adadelta, dropout switched by a shared
flag (deeplearning.net's lstm.py, small): the Theano program and its symbolic twin."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import theano
from theano import config, tensor
from theano.sandbox.rng_mrg import MRG_RandomStreams as RandomStreams
from twins import assert_same_values

import symbolic as S

N_WORDS, DIM, CLASSES, SEED = 12, 6, 2, 5


def numpy_floatX(data):
    return np.asarray(data, dtype=config.floatX)


def dataset():
    """Sequences of word ids whose class is whether word 1 occurs more often than word 2."""
    rng = np.random.RandomState(0)
    seqs = [list(rng.randint(1, N_WORDS, rng.randint(2, 7))) for _ in range(16)]
    labels = [int(s.count(1) >= s.count(2)) for s in seqs]
    return seqs, labels


def prepare_data(seqs, labels):
    """Pad to the longest sequence: x (steps, samples) int64, mask float, labels."""
    lengths = [len(s) for s in seqs]
    x = np.zeros((max(lengths), len(seqs))).astype("int64")
    x_mask = np.zeros((max(lengths), len(seqs))).astype(config.floatX)
    for idx, s in enumerate(seqs):
        x[: lengths[idx], idx] = s
        x_mask[: lengths[idx], idx] = 1.0
    return x, x_mask, np.asarray(labels, "int64")


def init_params():
    rng = np.random.RandomState(1)
    params = OrderedDict()
    params["Wemb"] = (0.01 * rng.rand(N_WORDS, DIM)).astype(config.floatX)
    params["lstm_W"] = (0.3 * rng.randn(DIM, 4 * DIM)).astype(config.floatX)
    params["lstm_U"] = (0.3 * rng.randn(DIM, 4 * DIM)).astype(config.floatX)
    params["lstm_b"] = np.zeros((4 * DIM,)).astype(config.floatX)
    params["U"] = 0.01 * rng.randn(DIM, CLASSES).astype(config.floatX)
    params["b"] = np.zeros((CLASSES,)).astype(config.floatX)
    return params


def _slice(_x, n, dim):
    if _x.ndim == 3:
        return _x[:, :, n * dim : (n + 1) * dim]
    return _x[:, n * dim : (n + 1) * dim]


def lstm_layer(tparams, state_below, mask):
    nsteps, n_samples = state_below.shape[0], state_below.shape[1]

    def _step(m_, x_, h_, c_):
        preact = tensor.dot(h_, tparams["lstm_U"]) + x_
        i = tensor.nnet.sigmoid(_slice(preact, 0, DIM))
        f = tensor.nnet.sigmoid(_slice(preact, 1, DIM))
        o = tensor.nnet.sigmoid(_slice(preact, 2, DIM))
        c = tensor.tanh(_slice(preact, 3, DIM))
        c = f * c_ + i * c
        c = m_[:, None] * c + (1.0 - m_)[:, None] * c_
        h = o * tensor.tanh(c)
        h = m_[:, None] * h + (1.0 - m_)[:, None] * h_
        return h, c

    state_below = tensor.dot(state_below, tparams["lstm_W"]) + tparams["lstm_b"]
    rval, updates = theano.scan(
        _step,
        sequences=[mask, state_below],
        outputs_info=[
            tensor.alloc(numpy_floatX(0.0), n_samples, DIM),
            tensor.alloc(numpy_floatX(0.0), n_samples, DIM),
        ],
        name="lstm_layers",
        n_steps=nsteps,
    )
    return rval[0]


def dropout_layer(state_before, use_noise, trng):
    return tensor.switch(
        use_noise,
        state_before * trng.binomial(state_before.shape, p=0.5, n=1, dtype=state_before.dtype),
        state_before * 0.5,
    )


def adadelta(lr, tparams, grads, x, mask, y, cost):
    zipped_grads = [theano.shared(p.get_value() * numpy_floatX(0.0)) for p in tparams.values()]
    running_up2 = [theano.shared(p.get_value() * numpy_floatX(0.0)) for p in tparams.values()]
    running_grads2 = [theano.shared(p.get_value() * numpy_floatX(0.0)) for p in tparams.values()]
    zgup = [(zg, g) for zg, g in zip(zipped_grads, grads)]
    rg2up = [(rg2, 0.95 * rg2 + 0.05 * (g**2)) for rg2, g in zip(running_grads2, grads)]
    f_grad_shared = theano.function(
        [x, mask, y], cost, updates=zgup + rg2up, name="adadelta_f_grad_shared"
    )
    updir = [
        -tensor.sqrt(ru2 + 1e-6) / tensor.sqrt(rg2 + 1e-6) * zg
        for zg, ru2, rg2 in zip(zipped_grads, running_up2, running_grads2)
    ]
    ru2up = [(ru2, 0.95 * ru2 + 0.05 * (ud**2)) for ru2, ud in zip(running_up2, updir)]
    param_up = [(p, p + ud) for p, ud in zip(tparams.values(), updir)]
    f_update = theano.function(
        [lr], [], updates=ru2up + param_up, on_unused_input="ignore", name="adadelta_f_update"
    )
    return f_grad_shared, f_update


def theano_program():
    tparams = OrderedDict((k, theano.shared(v, name=k)) for k, v in init_params().items())
    trng = RandomStreams(SEED)
    use_noise = theano.shared(numpy_floatX(0.0))
    x = tensor.matrix("x", dtype="int64")
    mask = tensor.matrix("mask", dtype=config.floatX)
    y = tensor.vector("y", dtype="int64")
    n_timesteps, n_samples = x.shape[0], x.shape[1]
    emb = tparams["Wemb"][x.flatten()].reshape([n_timesteps, n_samples, DIM])
    proj = lstm_layer(tparams, emb, mask)
    proj = (proj * mask[:, :, None]).sum(axis=0) / mask.sum(axis=0)[:, None]
    proj = dropout_layer(proj, use_noise, trng)
    pred = tensor.nnet.softmax(tensor.dot(proj, tparams["U"]) + tparams["b"])
    cost = -tensor.log(pred[tensor.arange(n_samples), y] + 1e-8).mean()
    f_pred_prob = theano.function([x, mask], pred, name="f_pred_prob")
    grads = tensor.grad(cost, wrt=list(tparams.values()))
    lr = tensor.scalar(name="lr")
    f_grad_shared, f_update = adadelta(lr, tparams, grads, x, mask, y, cost)
    data = prepare_data(*dataset())
    costs = []
    for _ in range(25):
        use_noise.set_value(1.0)
        costs.append(float(f_grad_shared(*data)))
        f_update(0.0001)
    use_noise.set_value(0.0)
    return costs, f_pred_prob(*data[:2])


def symbolic_program(device):
    params = [S.shared(v) for v in init_params().values()]
    Wemb, W, U, b, U_out, b_out = params
    rng, use_noise = S.RandomStream(SEED), S.shared(np.float32(0.0))
    x, mask, y = S.matrix("x", "int64"), S.matrix("mask"), S.vector("y", "int64")
    steps, samples = x.shape[0], x.shape[1]
    below = Wemb[x.flatten()].reshape([steps, samples, DIM]) @ W + b

    def step(m, x_t, h, c):
        z = h @ U + x_t
        i, f, o = (S.sigmoid(z[:, k * DIM : (k + 1) * DIM]) for k in range(3))
        c_new = f * c + i * S.tanh(z[:, 3 * DIM :])
        c_new = m[:, None] * c_new + (1.0 - m)[:, None] * c
        h_new = m[:, None] * (o * S.tanh(c_new)) + (1.0 - m)[:, None] * h
        return h_new, c_new

    zeros = S.alloc(np.float32(0.0), samples, DIM)
    (hs, _), _ = S.scan(step, [mask, below], [zeros, zeros], n_steps=steps)
    proj = (hs * mask[:, :, None]).sum(axis=0) / mask.sum(axis=0)[:, None]
    proj = S.where(use_noise, proj * rng.binomial(proj.shape, 0.5, dtype="float32"), proj * 0.5)
    pred = S.nnet.softmax(proj @ U_out + b_out)
    cost = -S.log(pred[S.arange(samples), y] + 1e-8).mean()
    grads = S.grad(cost, params)
    acc = [[S.shared(p.get_value() * 0) for p in params] for _ in range(3)]  # zg, ru2, rg2
    f_grad = S.compile([x, mask, y], cost, updates=[(z, g) for z, g in zip(acc[0], grads)]
                       + [(r, 0.95 * r + 0.05 * g**2) for r, g in zip(acc[2], grads)],
                       device=device)  # fmt: skip
    updir = [-S.sqrt(ru + 1e-6) / S.sqrt(rg + 1e-6) * zg for zg, ru, rg in zip(*acc)]
    f_update = S.compile([], [], updates=[(r, 0.95 * r + 0.05 * u**2) for r, u in
                         zip(acc[1], updir)] + [(p, p + u) for p, u in zip(params, updir)],
                         device=device)  # fmt: skip
    data = prepare_data(*dataset())
    costs = []
    for _ in range(25):
        use_noise.set_value(1.0)
        costs.append(float(f_grad(*data)))
        f_update()
    use_noise.set_value(0.0)
    return costs, S.compile([x, mask], pred, device=device)(*data[:2])


def test_lstm_adadelta_dropout_learns_and_matches_symbolic(theano_device):
    costs, probabilities = theano_program()
    assert np.mean(costs[-5:]) < np.mean(costs[:5])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert_same_values([costs, probabilities], symbolic_program(theano_device), theano_device)
