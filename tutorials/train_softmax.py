"""Train softmax regression (multinomial logistic regression) with `symbolic`.

Run it from the repository root after `pip install -e ".[tutorials]"`::

    python tutorials/train_softmax.py                  # scikit-learn's 8x8 digits, offline
    python tutorials/train_softmax.py --device numpy   # on the NumPy reference interpreter
    python tutorials/train_softmax.py --data mnist --data-dir DIR --plot softmax.png

It builds the model with the public API, compiles one training function (cost, gradients and
SGD updates in a single graph) and one prediction function, trains with minibatch SGD, prints
the test accuracy, then shows what was compiled: the optimized graph of the training function
and, where the device generates code, the source of its first kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import symbolic as S
from layers import dense
from runtime.function import Function
from training import Model, parse_args, train_and_report

TITLE = "softmax regression"


def build_model(image_shape: tuple[int, ...], n_classes: int, seed: int) -> Model:
    """p(class | image) = softmax(x @ W + b) on the flattened pixels; mean cross-entropy."""
    n_pixels = int(np.prod(image_shape))
    x = S.matrix("x")
    y = S.vector("y", dtype="int64")
    logits, params = dense(x, n_pixels, n_classes, None, "softmax")  # W starts at zero
    probabilities = S.nnet.softmax(logits)
    cost = S.nnet.categorical_crossentropy(probabilities, y).mean()
    return Model(x, y, probabilities, cost, params, input_shape=(n_pixels,))


def show_compiled(train: Function) -> None:
    """Print the compiled training graph and its first generated kernel (if any)."""
    print("\nThe compiled training function (cost, gradients and updates):")
    S.debugprint(train)  # prints the tree (and returns it as text)
    if train.kernels:
        kernel = train.kernels[0]
        print(f"\nIts first generated kernel, {kernel.name!r} ({kernel.target}):")
        print(kernel.source)
    else:
        print(f'\nDevice "{train.device}" ran the functions; it generates no kernels.')


def main(argv: Sequence[str] | None = None) -> float:
    """Train, report and return the test accuracy (a float in [0, 1])."""
    args = parse_args(__doc__.splitlines()[0], argv, lr=0.5, momentum=0.0, batch_size=32, epochs=50)
    history = train_and_report(build_model, args, TITLE)
    show_compiled(history.train_function)
    return history.test_accuracy


if __name__ == "__main__":
    main()
