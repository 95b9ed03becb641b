"""A model pickled with its symbolic graph (shared weights and expressions) and reloaded to
compile a predictor, as Theano users saved a classifier object."""

from __future__ import annotations

import pickle

import numpy as np
import theano
import theano.tensor as T


class LogisticRegression:
    def __init__(self, input, n_in, n_out):
        self.W = theano.shared(np.zeros((n_in, n_out), dtype=theano.config.floatX), name="W")
        self.b = theano.shared(np.zeros((n_out,), dtype=theano.config.floatX), name="b")
        self.p_y_given_x = T.nnet.softmax(T.dot(input, self.W) + self.b)
        self.y_pred = T.argmax(self.p_y_given_x, axis=1)
        self.input = input

    def negative_log_likelihood(self, y):
        return -T.mean(T.log(self.p_y_given_x)[T.arange(y.shape[0]), y])


def test_pickled_classifier_reloads_and_predicts(digits, theano_device, tmp_path):
    data, labels = digits
    x, y = T.matrix("x"), T.lvector("y")
    classifier = LogisticRegression(input=x, n_in=64, n_out=10)
    cost = classifier.negative_log_likelihood(y)
    params = [classifier.W, classifier.b]
    train = theano.function(
        [x, y], cost, updates=[(p, p - 0.5 * g) for p, g in zip(params, T.grad(cost, params))]
    )
    for _ in range(20):
        train(data[:300], labels[:300])
    predict = theano.function([classifier.input], classifier.y_pred)
    want = predict(data[300:400])
    assert np.mean(want == labels[300:400]) > 0.7

    path = tmp_path / "best_model.pkl"
    with open(path, "wb") as f:
        pickle.dump(classifier, f)
    with open(path, "rb") as f:
        loaded = pickle.load(f)
    predict_model = theano.function(inputs=[loaded.input], outputs=loaded.y_pred)
    np.testing.assert_array_equal(predict_model(data[300:400]), want)
    np.testing.assert_array_equal(loaded.W.get_value(), classifier.W.get_value())
    loaded.W.set_value(np.zeros((64, 10), "float32"))  # the copy's state is its own
    assert classifier.W.get_value().any()
