"""Train a multilayer perceptron (784-500-300-10, ReLU) on MNIST with `symbolic`.

Run it from the repository root after `pip install -e ".[tutorials]"`::

    python tutorials/train_mlp.py                                   # digits, offline
    python tutorials/train_mlp.py --data mnist --data-dir DIR --plot mlp.png

DIR holds the MNIST IDX files (see tutorials/data.py); without --data-dir, $SYMBOLIC_DATA.
Two hidden ReLU layers with He-initialized weights, softmax output, mean cross-entropy plus a
small L2 penalty, minibatch SGD with momentum and a learning rate that decays each epoch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import symbolic as S
from layers import dense
from training import Model, parse_args, train_and_report

TITLE = "multilayer perceptron"
HIDDEN = (500, 300)  # units per hidden layer


def build_model(image_shape: tuple[int, ...], n_classes: int, seed: int, l2: float = 1e-5) -> Model:
    """images (flattened) → dense+ReLU per HIDDEN size → dense → softmax."""
    n_pixels = int(np.prod(image_shape))
    rng = np.random.default_rng(seed)
    x = S.matrix("x")
    y = S.vector("y", dtype="int64")
    h, params, n_in = x, [], n_pixels
    for i, n_out in enumerate(HIDDEN):
        h, layer_params = dense(h, n_in, n_out, rng, f"hidden{i}", S.nnet.relu)
        params += layer_params
        n_in = n_out
    logits, out_params = dense(h, n_in, n_classes, rng, "output")
    params += out_params
    probabilities = S.nnet.softmax(logits)
    weight_decay = sum((W**2).sum() for W in params[::2])  # the W of each layer
    cost = S.nnet.categorical_crossentropy(probabilities, y).mean() + l2 * weight_decay
    return Model(x, y, probabilities, cost, params, input_shape=(n_pixels,))


def main(argv: Sequence[str] | None = None) -> float:
    """Train and return the test accuracy (a float in [0, 1])."""
    args = parse_args(__doc__.splitlines()[0], argv, lr=0.05, lr_decay=0.9, momentum=0.9, epochs=20)
    return train_and_report(build_model, args, TITLE).test_accuracy


if __name__ == "__main__":
    main()
