"""LeNet: conv2d and pool_2d layers, Theano style (deeplearning.net's convolutional_mlp),
on 8×8 digits with small filters."""

from __future__ import annotations

import numpy as np
import theano
import theano.tensor as T
from theano.tensor.nnet import conv2d
from theano.tensor.signal import pool
from twins import assert_same_values

import symbolic as S

BATCH, STEPS, RATE = 20, 20, 1.0
FILTERS1, FILTERS2 = (4, 1, 3, 3), (6, 4, 2, 2)


def initial_filters(shape, seed):
    rng = np.random.RandomState(seed)
    fan_in = np.prod(shape[1:])
    return np.asarray(rng.uniform(-1 / np.sqrt(fan_in), 1 / np.sqrt(fan_in), shape), "float32")


class LeNetConvPoolLayer:
    def __init__(self, input, filter_shape, image_shape, poolsize, seed):
        self.W = theano.shared(initial_filters(filter_shape, seed), borrow=True)
        self.b = theano.shared(np.zeros((filter_shape[0],), dtype=theano.config.floatX))
        conv_out = conv2d(
            input=input, filters=self.W, filter_shape=filter_shape, input_shape=image_shape
        )
        pooled_out = pool.pool_2d(input=conv_out, ws=poolsize, ignore_border=True)
        self.output = T.tanh(pooled_out + self.b.dimshuffle("x", 0, "x", "x"))
        self.params = [self.W, self.b]


def theano_program(data, labels):
    x, y = T.matrix("x"), T.ivector("y")
    layer0_input = x.reshape((BATCH, 1, 8, 8))
    layer0 = LeNetConvPoolLayer(layer0_input, FILTERS1, (BATCH, 1, 8, 8), (2, 2), seed=1)
    layer1 = LeNetConvPoolLayer(layer0.output, FILTERS2, (BATCH, 4, 3, 3), (1, 1), seed=2)
    W = theano.shared(np.zeros((6 * 2 * 2, 10), dtype=theano.config.floatX))
    p_y_given_x = T.nnet.softmax(T.dot(layer1.output.flatten(2), W))
    cost = -T.mean(T.log(p_y_given_x)[T.arange(y.shape[0]), y])
    params = layer1.params + layer0.params + [W]
    grads = T.grad(cost, params)
    updates = [(p, p - RATE * g) for p, g in zip(params, grads)]
    train = theano.function([x, y], cost, updates=updates, allow_input_downcast=True)
    losses = [float(train(data[:BATCH], labels[:BATCH])) for _ in range(STEPS)]
    return losses, layer0.W.get_value()


def symbolic_program(data, labels, device):
    x, y = S.matrix("x"), S.vector("y", "int32")
    W0, b0 = S.shared(initial_filters(FILTERS1, 1)), S.shared(np.zeros(4, np.float32))
    W1, b1 = S.shared(initial_filters(FILTERS2, 2)), S.shared(np.zeros(6, np.float32))
    W = S.shared(np.zeros((24, 10), np.float32))
    h = x.reshape((BATCH, 1, 8, 8))
    h = S.tanh(
        S.nnet.max_pool2d(S.nnet.conv2d(h, W0, flip=True), 2) + b0.dimshuffle("x", 0, "x", "x")
    )
    h = S.tanh(
        S.nnet.max_pool2d(S.nnet.conv2d(h, W1, flip=True), 1) + b1.dimshuffle("x", 0, "x", "x")
    )
    p = S.nnet.softmax(h.flatten(2) @ W)
    cost = -S.mean(S.log(p)[S.arange(y.shape[0]), y])
    params = [W1, b1, W0, b0, W]
    grads = S.grad(cost, params)
    train = S.compile([x, y], cost, updates=[(q, q - RATE * g) for q, g in zip(params, grads)],
                      device=device, allow_input_downcast=True)  # fmt: skip
    losses = [float(train(data[:BATCH], labels[:BATCH])) for _ in range(STEPS)]
    return losses, W0.get_value()


def test_lenet_learns_and_matches_symbolic(digits, theano_device):
    losses, W0 = theano_program(*digits)
    assert losses[-1] < 0.6 * losses[0]
    assert_same_values([losses, W0], symbolic_program(*digits, theano_device), theano_device)
