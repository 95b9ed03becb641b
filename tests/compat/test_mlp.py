"""A multilayer perceptron with L1 and L2 penalties, Theano style (deeplearning.net's mlp)."""

from __future__ import annotations

import numpy as np
import theano
import theano.tensor as T
from twins import assert_same_values

import symbolic as S

HIDDEN, STEPS, RATE, L1, L2 = 16, 15, 0.5, 1e-4, 1e-3


def initial_weights(n_in, n_out, seed):
    rng = np.random.RandomState(seed)
    bound = np.sqrt(6.0 / (n_in + n_out))
    return np.asarray(rng.uniform(low=-bound, high=bound, size=(n_in, n_out)), dtype="float32")


class HiddenLayer:
    def __init__(self, input, n_in, n_out, seed):
        self.W = theano.shared(value=initial_weights(n_in, n_out, seed), name="W", borrow=True)
        self.b = theano.shared(value=np.zeros((n_out,), dtype=theano.config.floatX), name="b")
        self.output = T.tanh(T.dot(input, self.W) + self.b)
        self.params = [self.W, self.b]


class MLP:
    def __init__(self, input, n_in, n_hidden, n_out):
        self.hiddenLayer = HiddenLayer(input, n_in, n_hidden, seed=1)
        self.W = theano.shared(initial_weights(n_hidden, n_out, 2), name="W_out", borrow=True)
        self.b = theano.shared(np.zeros((n_out,), dtype=theano.config.floatX), name="b_out")
        self.p_y_given_x = T.nnet.softmax(T.dot(self.hiddenLayer.output, self.W) + self.b)
        self.L1 = abs(self.hiddenLayer.W).sum() + abs(self.W).sum()
        self.L2_sqr = (self.hiddenLayer.W**2).sum() + (self.W**2).sum()
        self.params = self.hiddenLayer.params + [self.W, self.b]

    def negative_log_likelihood(self, y):
        return -T.mean(T.log(self.p_y_given_x)[T.arange(y.shape[0]), y])


def theano_program(data, labels):
    x, y = T.matrix("x"), T.lvector("y")
    classifier = MLP(input=x, n_in=64, n_hidden=HIDDEN, n_out=10)
    cost = classifier.negative_log_likelihood(y) + L1 * classifier.L1 + L2 * classifier.L2_sqr
    gparams = [T.grad(cost, param) for param in classifier.params]
    updates = [(p, p - RATE * g) for p, g in zip(classifier.params, gparams)]
    train = theano.function(inputs=[x, y], outputs=cost, updates=updates)
    losses = [float(train(data[:100], labels[:100])) for _ in range(STEPS)]
    return losses, classifier.W.get_value()


def symbolic_program(data, labels, device):
    x, y = S.matrix("x"), S.vector("y", "int64")
    W1, b1 = S.shared(initial_weights(64, HIDDEN, 1)), S.shared(np.zeros(HIDDEN, np.float32))
    W2, b2 = S.shared(initial_weights(HIDDEN, 10, 2)), S.shared(np.zeros(10, np.float32))
    p = S.nnet.softmax(S.tanh(x @ W1 + b1) @ W2 + b2)
    nll = -S.mean(S.log(p)[S.arange(y.shape[0]), y])
    l1 = abs(W1).sum() + abs(W2).sum()
    l2 = (W1**2).sum() + (W2**2).sum()
    cost = nll + L1 * l1 + L2 * l2
    params = [W1, b1, W2, b2]
    grads = S.grad(cost, params)
    train = S.compile([x, y], cost, updates=[(q, q - RATE * g) for q, g in zip(params, grads)],
                      device=device)  # fmt: skip
    losses = [float(train(data[:100], labels[:100])) for _ in range(STEPS)]
    return losses, W2.get_value()


def test_mlp_with_penalties_learns_and_matches_symbolic(digits, theano_device):
    losses, W = theano_program(*digits)
    assert losses[-1] < 0.8 * losses[0]
    assert_same_values([losses, W], symbolic_program(*digits, theano_device), theano_device)
