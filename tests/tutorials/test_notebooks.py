"""Every tutorial notebook runs to the end without error (small sizes), and is stored clean."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

TUTORIALS = Path(__file__).resolve().parents[2] / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))


def test_the_tutorial_notebooks_are_there():
    names = [path.stem for path in NOTEBOOKS]
    for expected in [
        "01_graphs_and_gradients",
        "02_logistic_regression_and_mlp",
        "03_lenet",
        "05_inside_the_compiler",
        "04_lstm_scan",
    ]:
        assert expected in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_without_error(path, monkeypatch):
    """Executes every cell in a fresh kernel started in tutorials/; a cell that raises fails
    the test with the cell and the traceback (nbclient's CellExecutionError)."""
    monkeypatch.setenv("SYMBOLIC_TUTORIALS_QUICK", "1")  # the notebooks read it: small runs
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(TUTORIALS)}},
    )
    client.execute()
