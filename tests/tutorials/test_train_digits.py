"""The digits tutorial script trains to a useful accuracy on the NumPy reference interpreter."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "tutorials" / "train_digits.py"


def load_script():
    spec = importlib.util.spec_from_file_location("train_digits", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_digits_reaches_accuracy_on_numpy(capsys):
    accuracy = load_script().main(["--device", "numpy"])
    assert accuracy >= 0.94
    printed = capsys.readouterr().out
    assert "test accuracy" in printed
