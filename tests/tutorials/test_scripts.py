"""The training scripts train to a sanity accuracy on small data, on numpy and cpu; their
plot is written; on real MNIST (when present) a short run learns."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import training

# script → (arguments of a short run on the digits, accuracy it must reach)
SHORT_RUNS = {
    "train_softmax": (["--epochs", "15"], 0.93),
    "train_lstm": (["--epochs", "3", "--lr", "0.3"], 0.85),
    "train_mlp": (["--epochs", "4", "--limit", "800"], 0.85),
    "train_lenet": (["--epochs", "4", "--limit", "600"], 0.85),
}


@pytest.mark.parametrize("script", sorted(SHORT_RUNS))
def test_script_reaches_accuracy_on_digits(script, device, tmp_path, capsys):
    arguments, floor = SHORT_RUNS[script]
    plot = tmp_path / "curves.png"
    accuracy = importlib.import_module(script).main(
        [*arguments, "--device", device, "--plot", str(plot)]
    )
    assert accuracy >= floor
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"test accuracy {accuracy:.4f}" in capsys.readouterr().out


def test_softmax_script_shows_the_compiled_function(capsys):
    importlib.import_module("train_softmax").main(["--epochs", "1", "--device", "cpu"])
    printed = capsys.readouterr().out
    assert "update softmax.W <-" in printed and "crossentropy_softmax" in printed
    assert "first generated kernel" in printed and "void " in printed


def test_lstm_learns_real_mnist_subset(mnist_folder):
    """28 steps of 28 pixels (the digits give 8 of 8)."""
    arguments = ["--data", "mnist", "--data-dir", str(mnist_folder), "--limit", "4000"]
    lstm = importlib.import_module("train_lstm")
    assert lstm.main([*arguments, "--epochs", "3", "--batch-size", "32"]) >= 0.8


def test_mlp_learns_real_mnist_subset(mnist_folder):
    arguments = ["--data", "mnist", "--data-dir", str(mnist_folder), "--limit", "5000"]
    accuracy = importlib.import_module("train_mlp").main([*arguments, "--epochs", "3"])
    assert accuracy >= 0.85


def test_lenet_learns_real_mnist_subset(mnist_folder):
    """28×28 images take LeNet's own valid convolutions (the digits take padded ones)."""
    lenet = importlib.import_module("train_lenet")
    assert lenet.padding_for((28, 28)) == 0 and lenet.padding_for((8, 8)) == 2
    arguments = ["--data", "mnist", "--data-dir", str(mnist_folder), "--limit", "2000"]
    assert lenet.main([*arguments, "--epochs", "2", "--device", "cpu"]) >= 0.85


def test_holdout_splits_without_overlap():
    x, y = np.arange(60).reshape(30, 2), np.arange(30)
    x_train, y_train, x_val, y_val = training.holdout(x, y, 0.2, seed=1)
    assert len(x_val) == 6 and len(x_train) == 24
    assert sorted([*y_train, *y_val]) == list(range(30))
    np.testing.assert_array_equal(x_val[:, 0] // 2, y_val)  # rows stay with their labels


def test_sgd_momentum_matches_the_update_formula():
    import symbolic as S
    from layers import sgd_updates

    w = S.shared(np.array([1.0, -2.0], np.float32), name="w")
    cost = (w**2).sum()  # gradient 2w
    step = S.compile([], cost, updates=sgd_updates(cost, [w], 0.1, momentum=0.5))
    velocity, value = np.zeros(2), np.array([1.0, -2.0])
    for _ in range(3):
        step()
        velocity = 0.5 * velocity - 0.1 * 2 * value
        value = value + velocity
    np.testing.assert_allclose(w.get_value(), value, rtol=1e-6)
