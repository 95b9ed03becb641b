"""Train an LSTM that reads each image row by row (a sequence of rows) with `symbolic`.

Run it from the repository root after `pip install -e ".[tutorials]"`::

    python tutorials/train_lstm.py                                  # digits: 8 steps of 8 pixels
    python tutorials/train_lstm.py --data mnist --data-dir DIR --plot lstm.png  # 28 of 28

DIR holds the MNIST IDX files (see tutorials/data.py); without --data-dir, $SYMBOLIC_DATA.
The LSTM (`layers.lstm`, a loop written with `S.scan`) reads one row of pixels per step; a
dense softmax layer classifies the image from the hidden state after the last row. Mean
cross-entropy, minibatch SGD with momentum and a learning rate that decays each epoch.
Its matrix products are small: where other jobs share the cores, OPENBLAS_NUM_THREADS=1 in the
environment trains it in about half the time NumPy's default BLAS threads take (README).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import symbolic as S
from layers import dense, lstm
from training import Model, parse_args, train_and_report

TITLE = "row LSTM"
HIDDEN = 128  # units of the LSTM's state


def build_model(image_shape: tuple[int, ...], n_classes: int, seed: int) -> Model:
    """images (batch, rows, cols) → LSTM over the rows → last hidden state → dense → softmax."""
    rows, cols = image_shape
    rng = np.random.default_rng(seed)
    x = S.tensor3("x")  # (batch, rows, cols)
    y = S.vector("y", dtype="int64")
    hidden, params = lstm(x.dimshuffle(1, 0, 2), cols, HIDDEN, rng, "lstm")  # time first
    logits, out_params = dense(hidden[-1], HIDDEN, n_classes, rng, "output")
    probabilities = S.nnet.softmax(logits)
    cost = S.nnet.categorical_crossentropy(probabilities, y).mean()
    return Model(x, y, probabilities, cost, params + out_params, input_shape=(rows, cols))


def main(argv: Sequence[str] | None = None) -> float:
    """Train and return the test accuracy (a float in [0, 1])."""
    args = parse_args(__doc__.splitlines()[0], argv, lr=0.1, lr_decay=0.9, momentum=0.9, epochs=10)
    return train_and_report(build_model, args, TITLE).test_accuracy


if __name__ == "__main__":
    main()
