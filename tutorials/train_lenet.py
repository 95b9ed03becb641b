"""Train LeNet, a convolutional network, on MNIST with `symbolic`.

Run it from the repository root after `pip install -e ".[tutorials]"`::

    python tutorials/train_lenet.py                                 # digits, offline
    python tutorials/train_lenet.py --data mnist --data-dir DIR --plot lenet.png

DIR holds the MNIST IDX files (see tutorials/data.py); without --data-dir, $SYMBOLIC_DATA.
conv 20 5×5 → max-pool 2 → conv 50 5×5 → max-pool 2 → dense 500 → dense 10 (softmax), ReLU
after each layer but the last, He-initialized; mean cross-entropy plus a small L2 penalty,
minibatch SGD with momentum and a learning rate that decays each epoch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import symbolic as S
from layers import conv_pool, conv_pool_length, dense
from training import Model, parse_args, train_and_report

TITLE = "LeNet"
FILTERS = (20, 50)  # filters of the two convolution layers
SIZE = 5  # their filters are SIZE × SIZE
HIDDEN = 500  # units of the dense hidden layer
# Valid convolutions (no padding) need images of at least 16 pixels a side: 16 → 12 → 6 → 2 → 1.
SMALLEST_VALID = 16


def padding_for(image_shape: tuple[int, ...]) -> int:
    """0 (valid convolutions, LeNet's own) for images large enough, such as MNIST's 28×28;
    else SIZE // 2 ("same" convolutions, which keep the size), so that LeNet also runs on the
    8×8 digits: 8 → 8 → 4 → 4 → 2."""
    return 0 if min(image_shape) >= SMALLEST_VALID else SIZE // 2


def build_model(image_shape: tuple[int, ...], n_classes: int, seed: int, l2: float = 1e-4) -> Model:
    """(rows, cols) images → two conv_pool layers → dense+ReLU → dense → softmax.

    ReLU rather than the original LeNet's tanh: it does not saturate, so the gradients that
    reach the lower layers do not fade and SGD from He-initialized weights trains the network
    in a few epochs; it costs one comparison; and it commutes with max-pooling, so `conv_pool`
    applies it to the pooled values only, a quarter as many.
    """
    rows, cols = image_shape
    padding = padding_for(image_shape)
    rng = np.random.default_rng(seed)
    x = S.tensor("x", "float32", (None, 1, rows, cols))
    y = S.vector("y", dtype="int64")
    h, params, channels = x, [], 1
    for i, n_filters in enumerate(FILTERS):
        h, layer_params = conv_pool(
            h, channels, n_filters, SIZE, rng, f"conv{i}", padding, activation=S.nnet.relu
        )
        params += layer_params
        channels = n_filters
        rows, cols = (conv_pool_length(n, SIZE, padding) for n in (rows, cols))
    h, hidden_params = dense(
        h.flatten(2), channels * rows * cols, HIDDEN, rng, "hidden", S.nnet.relu
    )
    logits, out_params = dense(h, HIDDEN, n_classes, rng, "output")
    params += hidden_params + out_params
    probabilities = S.nnet.softmax(logits)
    weight_decay = sum((W**2).sum() for W in params[::2])  # the W of each layer
    cost = S.nnet.categorical_crossentropy(probabilities, y).mean() + l2 * weight_decay
    return Model(x, y, probabilities, cost, params, input_shape=(1, *image_shape))


def main(argv: Sequence[str] | None = None) -> float:
    """Train and return the test accuracy (a float in [0, 1])."""
    args = parse_args(__doc__.splitlines()[0], argv, lr=0.05, lr_decay=0.9, momentum=0.9, epochs=15)
    return train_and_report(build_model, args, TITLE).test_accuracy


if __name__ == "__main__":
    main()
