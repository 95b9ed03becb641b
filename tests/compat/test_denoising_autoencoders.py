"""A denoising autoencoder with RandomStreams.binomial corruption, and stacked autoencoders
whose pretraining functions take In(corruption, value=0.2) (deeplearning.net's dA and SdA)."""

from __future__ import annotations

import numpy as np
import theano
import theano.tensor as T
from theano.tensor.shared_randomstreams import RandomStreams
from twins import assert_same_values

import symbolic as S

BATCH, SEED = 40, 7


def initial_weights(n_visible, n_hidden, seed):
    rng = np.random.RandomState(seed)
    bound = 4 * np.sqrt(6.0 / (n_hidden + n_visible))
    return np.asarray(rng.uniform(-bound, bound, (n_visible, n_hidden)), theano.config.floatX)


class dA:  # noqa: N801 - the tutorial's name
    def __init__(self, theano_rng, input, n_visible, n_hidden, W=None, bhid=None, seed=1):
        self.W = W or theano.shared(initial_weights(n_visible, n_hidden, seed), name="W")
        self.b = bhid or theano.shared(np.zeros(n_hidden, dtype=theano.config.floatX), name="b")
        self.b_prime = theano.shared(np.zeros(n_visible, dtype=theano.config.floatX))
        self.W_prime = self.W.T
        self.theano_rng = theano_rng
        self.x = input
        self.params = [self.W, self.b, self.b_prime]

    def get_corrupted_input(self, input, corruption_level):
        return (
            self.theano_rng.binomial(
                size=input.shape, n=1, p=1 - corruption_level, dtype=theano.config.floatX
            )
            * input
        )

    def get_hidden_values(self, input):
        return T.nnet.sigmoid(T.dot(input, self.W) + self.b)

    def get_cost_updates(self, corruption_level, learning_rate):
        tilde_x = self.get_corrupted_input(self.x, corruption_level)
        y = self.get_hidden_values(tilde_x)
        z = T.nnet.sigmoid(T.dot(y, self.W_prime) + self.b_prime)
        L = -T.sum(self.x * T.log(z) + (1 - self.x) * T.log(1 - z), axis=1)
        cost = T.mean(L)
        gparams = T.grad(cost, self.params)
        updates = [(p, p - learning_rate * g) for p, g in zip(self.params, gparams)]
        return cost, updates


def theano_da(data):
    index, x = T.lscalar(), T.matrix("x")
    train_x = theano.shared(data, borrow=True)
    da = dA(RandomStreams(SEED), x, n_visible=64, n_hidden=20)
    cost, updates = da.get_cost_updates(corruption_level=0.3, learning_rate=0.1)
    train = theano.function(
        [index], cost, updates=updates, givens={x: train_x[index * BATCH : (index + 1) * BATCH]}
    )
    return [float(train(i % 5)) for i in range(15)], da.W.get_value()


def symbolic_da(data, device):
    index, x, train_x = S.scalar("i", "int64"), S.matrix("x"), S.shared(data)
    rng = S.RandomStream(SEED)
    W = S.shared(initial_weights(64, 20, 1))
    b, b_prime = S.shared(np.zeros(20, np.float32)), S.shared(np.zeros(64, np.float32))
    tilde_x = rng.binomial(x.shape, 1 - 0.3, dtype="float32") * x
    z = S.sigmoid(S.sigmoid(tilde_x @ W + b) @ W.T + b_prime)
    cost = S.mean(-S.sum(x * S.log(z) + (1 - x) * S.log(1 - z), axis=1))
    params = [W, b, b_prime]
    grads = S.grad(cost, params)
    rows = x, train_x[index * BATCH : (index + 1) * BATCH]
    train = S.compile([index], cost, updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)],
                      givens=[rows], device=device)  # fmt: skip
    return [float(train(i % 5)) for i in range(15)], W.get_value()


def test_denoising_autoencoder_learns_and_matches_symbolic(digits, theano_device):
    losses, W = theano_da(digits[0])
    assert losses[-1] < 0.9 * losses[0]
    assert_same_values([losses, W], symbolic_da(digits[0], theano_device), theano_device)


def theano_pretraining_functions(train_x, layer_sizes):
    """SdA.pretraining_functions: one function per layer, taking In(corruption, value=0.2)
    and In(lr, value=0.1) besides the minibatch index."""
    index, x = T.lscalar("index"), T.matrix("x")
    corruption_level, learning_rate = T.scalar("corruption"), T.scalar("lr")
    rng, layer_input, fns = RandomStreams(SEED), x, []
    for i, (n_in, n_out) in enumerate(zip(layer_sizes, layer_sizes[1:])):
        layer = dA(rng, layer_input, n_in, n_out, seed=i + 1)
        cost, updates = layer.get_cost_updates(corruption_level, learning_rate)
        fn = theano.function(
            inputs=[
                index,
                theano.In(corruption_level, value=0.2),
                theano.In(learning_rate, value=0.1),
            ],
            outputs=cost,
            updates=updates,
            givens={x: train_x[index * BATCH : (index + 1) * BATCH]},
        )
        fns.append(fn)
        layer_input = layer.get_hidden_values(layer_input)
    return fns


def test_stacked_autoencoders_pretrain_with_in_defaults(digits, theano_device):
    train_x = theano.shared(digits[0], borrow=True)
    fns = theano_pretraining_functions(train_x, [64, 24, 12])
    corruption_levels = [0.1, 0.2]
    costs = []
    for i, fn in enumerate(fns):
        first = float(fn(index=0, corruption=corruption_levels[i], lr=0.1))
        for step in range(8):
            last = float(fn(index=step % 4))  # corruption and lr by their defaults
        costs.append((first, last))
    for first, last in costs:
        assert last < first
    # the first layer with the defaults is the plain dA above, called the same way
    da_fns = theano_pretraining_functions(theano.shared(digits[0]), [64, 20])
    losses = [float(da_fns[0](i % 5, 0.3)) for i in range(15)]
    assert_same_values([losses], [symbolic_da(digits[0], theano_device)[0]], theano_device)
