"""An RBM trained by CD-k: Gibbs sampling inside a scan step, binomial draws from
RandomStreams, consider_constant on the chain's end (deeplearning.net's rbm)."""

from __future__ import annotations

import numpy as np
import theano
import theano.tensor as T
from theano.tensor.shared_randomstreams import RandomStreams
from twins import assert_same_values

import symbolic as S

N_VISIBLE, N_HIDDEN, BATCH, K, RATE, SEED = 64, 16, 30, 2, 0.1, 3


def initial_weights():
    rng = np.random.RandomState(1234)
    bound = 4 * np.sqrt(6.0 / (N_HIDDEN + N_VISIBLE))
    return np.asarray(rng.uniform(-bound, bound, (N_VISIBLE, N_HIDDEN)), "float32")


class RBM:
    def __init__(self, input, theano_rng):
        self.W = theano.shared(value=initial_weights(), name="W", borrow=True)
        self.hbias = theano.shared(np.zeros(N_HIDDEN, dtype=theano.config.floatX), name="hbias")
        self.vbias = theano.shared(np.zeros(N_VISIBLE, dtype=theano.config.floatX), name="vbias")
        self.input, self.theano_rng = input, theano_rng
        self.params = [self.W, self.hbias, self.vbias]

    def free_energy(self, v_sample):
        wx_b = T.dot(v_sample, self.W) + self.hbias
        vbias_term = T.dot(v_sample, self.vbias)
        hidden_term = T.sum(T.log(1 + T.exp(wx_b)), axis=1)
        return -hidden_term - vbias_term

    def sample_h_given_v(self, v0_sample):
        pre_sigmoid_h1 = T.dot(v0_sample, self.W) + self.hbias
        h1_mean = T.nnet.sigmoid(pre_sigmoid_h1)
        h1_sample = self.theano_rng.binomial(
            size=h1_mean.shape, n=1, p=h1_mean, dtype=theano.config.floatX
        )
        return [pre_sigmoid_h1, h1_mean, h1_sample]

    def sample_v_given_h(self, h0_sample):
        pre_sigmoid_v1 = T.dot(h0_sample, self.W.T) + self.vbias
        v1_mean = T.nnet.sigmoid(pre_sigmoid_v1)
        v1_sample = self.theano_rng.binomial(
            size=v1_mean.shape, n=1, p=v1_mean, dtype=theano.config.floatX
        )
        return [pre_sigmoid_v1, v1_mean, v1_sample]

    def gibbs_hvh(self, h0_sample):
        pre_sigmoid_v1, v1_mean, v1_sample = self.sample_v_given_h(h0_sample)
        pre_sigmoid_h1, h1_mean, h1_sample = self.sample_h_given_v(v1_sample)
        return [pre_sigmoid_v1, v1_mean, v1_sample, pre_sigmoid_h1, h1_mean, h1_sample]

    def get_cost_updates(self, lr, k):
        pre_sigmoid_ph, ph_mean, ph_sample = self.sample_h_given_v(self.input)
        (
            [pre_sigmoid_nvs, nv_means, nv_samples, pre_sigmoid_nhs, nh_means, nh_samples],
            updates,
        ) = theano.scan(
            self.gibbs_hvh,
            outputs_info=[None, None, None, None, None, ph_sample],
            n_steps=k,
            name="gibbs_hvh",
        )
        chain_end = nv_samples[-1]
        cost = T.mean(self.free_energy(self.input)) - T.mean(self.free_energy(chain_end))
        gparams = T.grad(cost, self.params, consider_constant=[chain_end])
        for gparam, param in zip(gparams, self.params):
            updates[param] = param - gparam * T.cast(lr, dtype=theano.config.floatX)
        monitoring_cost = T.mean(
            T.sum(
                self.input * T.log(T.nnet.sigmoid(pre_sigmoid_nvs[-1]))
                + (1 - self.input) * T.log(1 - T.nnet.sigmoid(pre_sigmoid_nvs[-1])),
                axis=1,
            )
        )
        return -monitoring_cost, updates


def theano_program(data):
    index, x = T.lscalar(), T.matrix("x")
    train_x = theano.shared((data > 0.5).astype("float32"), borrow=True)
    rbm = RBM(input=x, theano_rng=RandomStreams(SEED))
    cost, updates = rbm.get_cost_updates(lr=RATE, k=K)
    train = theano.function(
        [index], cost, updates=updates, givens={x: train_x[index * BATCH : (index + 1) * BATCH]}
    )
    return [float(train(i % 6)) for i in range(24)], rbm.W.get_value()


def symbolic_program(data, device):
    index, x = S.scalar("index", "int64"), S.matrix("x")
    train_x = S.shared((data > 0.5).astype("float32"))
    W = S.shared(initial_weights())
    hb, vb = S.shared(np.zeros(N_HIDDEN, np.float32)), S.shared(np.zeros(N_VISIBLE, np.float32))
    rng = S.RandomStream(SEED)

    def sample(pre):
        mean = S.sigmoid(pre)
        return rng.binomial(mean.shape, mean, dtype="float32")

    def free_energy(v):
        return -S.sum(S.log(1 + S.exp(v @ W + hb)), axis=1) - v @ vb

    def gibbs(h):
        pre_v = h @ W.T + vb
        v = sample(pre_v)
        pre_h = v @ W + hb
        return [pre_v, S.sigmoid(pre_v), v, pre_h, S.sigmoid(pre_h), sample(pre_h)]

    h0 = sample(x @ W + hb)
    outs, updates = S.scan(gibbs, outputs_info=[None] * 5 + [h0], n_steps=K)
    chain_end, pre_v = outs[2][-1], outs[0][-1]
    cost = S.mean(free_energy(x)) - S.mean(free_energy(chain_end))
    params = [W, hb, vb]
    grads = S.grad(cost, params, consider_constant=[chain_end])
    updates.update((p, p - g * RATE) for p, g in zip(params, grads))
    recon = -S.mean(S.sum(x * S.log(S.sigmoid(pre_v)) + (1 - x) * S.log(1 - S.sigmoid(pre_v)), 1))
    rows = train_x[index * BATCH : (index + 1) * BATCH]
    train = S.compile([index], recon, updates=updates, givens={x: rows}, device=device)
    return [float(train(i % 6)) for i in range(24)], W.get_value()


def test_rbm_cd_k_learns_and_matches_symbolic(digits, theano_device):
    costs, W = theano_program(digits[0])
    assert np.mean(costs[-6:]) < np.mean(costs[:6])
    assert_same_values([costs, W], symbolic_program(digits[0], theano_device), theano_device)
