"""What every tutorial training script shares: its options, the training loop, evaluation, plots.

A script describes its model with a function that returns a `Model` (symbolic input and
labels, class probabilities, cost, parameters) and hands it to `train_and_report` with the
parsed options; everything else (loading the data, holding out a validation set, compiling,
minibatch SGD with a progress bar, the per-epoch validation accuracy, the test accuracy and the
PNG plot) happens here.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

import data
import symbolic as S
import symbolic.distributed as D
from layers import sgd_updates
from runtime.function import Function
from symbolic.compiler import DEVICES


@dataclass
class Model:
    """A classifier as symbolic graphs.

    `x` is the input batch, shaped (batch, *input_shape); `y` the int64 labels;
    `probabilities` the (batch, classes) class probabilities; `cost` the scalar training loss
    (which may add regularization to the cross-entropy); `params` what SGD trains.
    """

    x: S.Variable
    y: S.Variable
    probabilities: S.Variable
    cost: S.Variable
    params: list[S.SharedVariable]
    input_shape: tuple[int, ...]


@dataclass
class History:
    """Per-epoch mean training loss and validation accuracy, the test accuracy, the time taken
    and the compiled training function (to inspect: `S.debugprint(history.train_function)`)."""

    train_loss: list[float] = field(default_factory=list)
    validation_accuracy: list[float] = field(default_factory=list)
    test_accuracy: float = float("nan")
    seconds: float = 0.0
    train_function: Function | None = None


def parse_args(
    description: str, argv: Sequence[str] | None = None, **defaults
) -> argparse.Namespace:
    """The options every script takes; `defaults` override the generic defaults per script."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add = parser.add_argument
    add("--data", default="digits", choices=sorted(data.CLASS_NAMES), help="the data set")
    add("--data-dir", help=f"folder of the IDX files; none: ${data.ENVIRONMENT_VARIABLE}")
    add("--epochs", type=int, default=20, help="passes over the training set")
    add("--batch-size", type=int, default=64, help="examples per SGD step")
    add("--lr", type=float, default=0.1, help="SGD learning rate")
    add("--lr-decay", type=float, default=1.0, help="learning rate factor after each epoch")
    add("--momentum", type=float, default=0.9, help="SGD momentum (0: plain SGD)")
    add(
        "--validation",
        type=float,
        default=1 / 6,
        help="fraction of the training images held out for validation (default: %(default).3g)",
    )
    add("--limit", type=int, help="use at most this many training and test images")
    add("--device", default="auto", choices=DEVICES, help="where the compiled functions run")
    add("--seed", type=int, default=0, help="seed of the initial weights and the shuffling")
    add("--plot", help="PNG file for the loss and accuracy curves")
    add(
        "--distributed",
        action="store_true",
        help="data-parallel over the ranks of `mpiexec -n N` (each its share of every batch)",
    )
    parser.set_defaults(**defaults)
    return parser.parse_args(argv)


def holdout(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_validation, y_validation): a random `fraction` held out."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_validation = max(1, round(fraction * len(x)))
    train, validation = order[n_validation:], order[:n_validation]
    return x[train], y[train], x[validation], y[validation]


def accuracy(predict: Callable, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    """Fraction of `x` whose predicted class is `y`, predicted `batch_size` images at a time."""
    hits = sum(
        int(np.sum(predict(x[i : i + batch_size]) == y[i : i + batch_size]))
        for i in range(0, len(x), batch_size)
    )
    return hits / len(x)


def fit(model: Model, dataset: data.Dataset, args: argparse.Namespace) -> History:
    """Train `model` with minibatch SGD on `dataset` as `args` say; returns its history."""
    start = time.perf_counter()

    def reshape(images: np.ndarray) -> np.ndarray:
        return images.reshape((len(images), *model.input_shape))

    x_all, y_all = dataset.x_train[: args.limit], dataset.y_train[: args.limit]
    x_train, y_train, x_val, y_val = holdout(reshape(x_all), y_all, args.validation, args.seed)
    x_test, y_test = reshape(dataset.x_test[: args.limit]), dataset.y_test[: args.limit]

    # The learning rate is a shared scalar, so the schedule changes it without recompiling.
    learning_rate = S.shared(np.float32(args.lr), name="learning_rate")
    train = compile_training(model, learning_rate, args)
    predict = S.compile([model.x], model.probabilities.argmax(axis=1), device=args.device)

    history = History(train_function=train)
    rng = np.random.default_rng(args.seed)  # the same on every rank: so are the batches
    batches = list(batch_rows(len(x_train), args))
    progress = tqdm(
        total=args.epochs * len(batches), unit="step", desc="training", disable=D.rank() != 0
    )
    for epoch in range(args.epochs):
        order = rng.permutation(len(x_train))
        losses = []
        for rows, extra in batches:
            batch = order[rows]
            losses.append(float(train(x_train[batch], y_train[batch], *extra)))
            progress.update()
        history.train_loss.append(float(np.mean(losses)))
        history.validation_accuracy.append(accuracy(predict, x_val, y_val))
        progress.set_postfix(
            epoch=epoch + 1,
            loss=f"{history.train_loss[-1]:.4f}",
            validation=f"{history.validation_accuracy[-1]:.4f}",
        )
        learning_rate.set_value(np.float32(learning_rate.get_value() * args.lr_decay))
    progress.close()
    history.test_accuracy = accuracy(predict, x_test, y_test)
    history.seconds = time.perf_counter() - start
    return history


def compile_training(model: Model, learning_rate: S.SharedVariable, args) -> Function:
    """The SGD step: train(x, y) → the batch's cost. With --distributed, train(x, y, share)
    on each rank's rows, where `share` is the rank's fraction of the global batch: the costs
    scaled by it and summed over ranks are the global batch's mean cost, exactly, however
    unevenly the rows split, and so are the all-reduced gradients."""
    if not getattr(args, "distributed", False):
        updates = sgd_updates(model.cost, model.params, learning_rate, args.momentum)
        return S.compile([model.x, model.y], model.cost, updates=updates, device=args.device)
    D.broadcast_shared(model.params)  # every rank starts from rank 0's weights
    share = S.scalar("share")
    cost = model.cost * share
    grads = D.allreduce(S.grad(cost, model.params), op="sum")
    updates = sgd_updates(cost, model.params, learning_rate, args.momentum, grads=grads)
    inputs = [model.x, model.y, share]
    return S.compile(inputs, D.allreduce(cost, op="sum"), updates=updates, device=args.device)


def batch_rows(n_items: int, args):
    """(rows of this rank in the epoch's order, extra arguments of train) per step. With
    --distributed a step whose global batch has fewer rows than there are ranks is left out
    on every rank (a rank without rows has no mean cost)."""
    if not getattr(args, "distributed", False):
        for first in range(0, n_items, args.batch_size):
            yield np.arange(first, min(first + args.batch_size, n_items)), ()
        return
    for step, rows in enumerate(D.shard(n_items, args.batch_size)):
        global_rows = min(args.batch_size, n_items - step * args.batch_size)
        if global_rows >= D.size():
            yield rows, (np.float32(len(rows) / global_rows),)


def plot_history(history: History, title: str = ""):
    """A matplotlib Figure: training loss (left) and validation accuracy (right) per epoch."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    figure = Figure(figsize=(9, 3.5), layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    epochs = np.arange(1, len(history.train_loss) + 1)
    loss_axes.plot(epochs, history.train_loss, marker="o")
    loss_axes.set(xlabel="epoch", ylabel="mean training loss", yscale="log")
    accuracy_axes.plot(epochs, history.validation_accuracy, marker="o", color="tab:green")
    accuracy_axes.set(xlabel="epoch", ylabel="validation accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    return figure


def train_and_report(
    build_model: Callable[[tuple[int, ...], int, int], Model],
    args: argparse.Namespace,
    title: str,
) -> History:
    """Load the data `args` name, build the model, train it, print and plot the results.

    `build_model(image_shape, n_classes, seed)` returns the `Model` for images of that shape.
    """
    dataset = data.load(args.data, args.data_dir)
    report = print if D.rank() == 0 else (lambda *_: None)  # one rank speaks for all
    report(dataset.describe())
    model = build_model(dataset.x_train.shape[1:], len(dataset.class_names), args.seed)
    history = fit(model, dataset, args)
    ranks = f", {D.size()} ranks" if getattr(args, "distributed", False) else ""
    report(
        f"test accuracy {history.test_accuracy:.4f} after {args.epochs} epochs, "
        f"{history.seconds:.1f} s on device {args.device!r}{ranks}"
    )
    if args.plot and D.rank() == 0:
        plot_history(history, f"{title} ({args.data})").savefig(args.plot, dpi=100)
        report(f"plot saved to {Path(args.plot).resolve()}")
    return history
