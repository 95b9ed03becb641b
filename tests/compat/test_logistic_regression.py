"""Logistic regression, Theano style: the dataset in shared variables, minibatches through
givens with a symbolic int64 index (as deeplearning.net's logistic_sgd)."""

from __future__ import annotations

import numpy as np
import theano
import theano.tensor as T
from twins import assert_same_values

import symbolic as S

BATCH, STEPS, RATE = 50, 12, 0.5


def theano_program(data, labels):
    train_x = theano.shared(data, borrow=True)
    train_y = T.cast(theano.shared(labels.astype(theano.config.floatX), borrow=True), "int32")
    index = T.lscalar()
    x = T.matrix("x")
    y = T.ivector("y")
    W = theano.shared(np.zeros((64, 10), dtype=theano.config.floatX), name="W", borrow=True)
    b = theano.shared(np.zeros((10,), dtype=theano.config.floatX), name="b", borrow=True)
    p_y_given_x = T.nnet.softmax(T.dot(x, W) + b)
    y_pred = T.argmax(p_y_given_x, axis=1)
    cost = -T.mean(T.log(p_y_given_x)[T.arange(y.shape[0]), y])
    errors = T.mean(T.neq(y_pred, y))
    g_W, g_b = T.grad(cost=cost, wrt=W), T.grad(cost=cost, wrt=b)
    train = theano.function(
        inputs=[index],
        outputs=cost,
        updates=[(W, W - RATE * g_W), (b, b - RATE * g_b)],
        givens={
            x: train_x[index * BATCH : (index + 1) * BATCH],
            y: train_y[index * BATCH : (index + 1) * BATCH],
        },
    )
    test = theano.function([x, y], errors, allow_input_downcast=True)
    losses = [float(train(i % 4)) for i in range(STEPS)]
    return losses, test(data[:200], labels[:200]), W.get_value()


def symbolic_program(data, labels, device):
    train_x, train_y = S.shared(data), S.cast(S.shared(labels.astype(np.float32)), "int32")
    index, x, y = S.scalar("index", "int64"), S.matrix("x"), S.vector("y", "int32")
    W, b = S.shared(np.zeros((64, 10), np.float32)), S.shared(np.zeros(10, np.float32))
    p = S.nnet.softmax(x @ W + b)
    cost = -S.mean(S.log(p)[S.arange(y.shape[0]), y])
    g_W, g_b = S.grad(cost, [W, b])
    rows = slice(index * BATCH, (index + 1) * BATCH)
    train = S.compile([index], cost, updates=[(W, W - RATE * g_W), (b, b - RATE * g_b)],
                      givens={x: train_x[rows], y: train_y[rows]}, device=device)  # fmt: skip
    test = S.compile([x, y], S.mean(S.neq(p.argmax(axis=1), y)), device=device)
    losses = [float(train(i % 4)) for i in range(STEPS)]
    return losses, test(data[:200], labels[:200].astype(np.int32)), W.get_value()


def test_logistic_regression_learns_and_matches_symbolic(digits, theano_device):
    data, labels = digits
    losses, error, W = theano_program(*digits)
    assert losses[-1] < 0.6 * losses[0] and error < 0.3
    want = symbolic_program(data, labels, theano_device)
    assert_same_values([losses, error, W], want, theano_device)
