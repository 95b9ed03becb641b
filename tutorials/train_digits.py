"""Train softmax regression on scikit-learn's 8x8 digits with `symbolic`.

Run it from the repository root after `pip install -e ".[tutorials]"`::

    python tutorials/train_digits.py                 # device="auto"
    python tutorials/train_digits.py --device numpy  # the NumPy reference interpreter

It builds the model with the public API, compiles one training function (cost, gradients and
SGD updates in a single graph) and one prediction function, trains with minibatch SGD, prints the
test accuracy, then shows what was compiled: the optimized graph of the training function and,
where the device generates code, the source of its first kernel.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import symbolic as S


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50, help="passes over the training set")
    parser.add_argument("--lr", type=float, default=0.5, help="SGD learning rate")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per SGD step")
    parser.add_argument(
        "--device",
        default="auto",
        choices=["auto", "numpy", "cpu", "cuda"],
        help='where the compiled functions run (default "auto")',
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the split and shuffling")
    return parser.parse_args(argv)


def load_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 1797 digits as float32 pixels in [0, 1] and int64 labels, split 75% / 25%."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # pixel values are 0..16
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)


def main(argv: Sequence[str] | None = None) -> float:
    """Train, report and return the test accuracy (a float in [0, 1])."""
    args = parse_args(argv)
    x_train, x_test, y_train, y_test = load_data(args.seed)
    n_features, n_classes = x_train.shape[1], 10
    print(f"digits: {len(x_train)} training and {len(x_test)} test images, {n_features} pixels")

    # The model: p(class | x) = softmax(x @ W + b), trained on the mean cross-entropy.
    x = S.matrix("x")
    y = S.vector("y", dtype="int64")
    W = S.shared(np.zeros((n_features, n_classes), np.float32), name="W")
    b = S.shared(np.zeros(n_classes, np.float32), name="b")
    p = S.nnet.softmax(x @ W + b)
    cost = S.nnet.categorical_crossentropy(p, y).mean()
    gW, gb = S.grad(cost, [W, b])

    # One call of `train` computes the cost and applies the SGD step to W and b.
    lr = args.lr
    train = S.compile(
        [x, y], cost, updates=[(W, W - lr * gW), (b, b - lr * gb)], device=args.device
    )
    predict = S.compile([x], p.argmax(axis=1), device=args.device)

    rng = np.random.default_rng(args.seed)
    n = len(x_train)
    epochs = tqdm(range(args.epochs), desc="training", unit="epoch")
    for _ in epochs:
        order = rng.permutation(n)
        losses = []
        for start in range(0, n, args.batch_size):
            batch = order[start : start + args.batch_size]
            losses.append(float(train(x_train[batch], y_train[batch])))
        epochs.set_postfix(loss=f"{np.mean(losses):.4f}")

    accuracy = float(np.mean(predict(x_test) == y_test))
    print(f"test accuracy: {accuracy:.4f}")

    print("\nThe compiled training function (cost, gradients and updates):")
    S.debugprint(train)  # prints the tree (and returns it as text)
    if train.kernels:
        kernel = train.kernels[0]
        print(f"\nIts first generated kernel, {kernel.name!r} ({kernel.target}):")
        print(kernel.source)
    else:
        print(f'\nDevice "{train.device}" ran the functions; it generates no kernels.')
    return accuracy


if __name__ == "__main__":
    main()
