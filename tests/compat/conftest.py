"""The Theano programs' fixtures: `import theano` resolves to symbolic's layer, and each
program runs on the numpy and cpu devices (theano.config.device), beside the same program
written with symbolic directly.

install() runs at collection, before any test module's `import theano`.
"""

from __future__ import annotations

import numpy as np
import pytest

import symbolic.compat.theano

symbolic.compat.theano.install()


@pytest.fixture(params=["numpy", "cpu"])
def theano_device(request):
    """Sets theano.config.device for the test and returns the same name for S.compile."""
    import theano

    before = theano.config.device
    theano.config.device = request.param
    yield request.param
    theano.config.device = before


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's 8×8 digits (bundled, no download), scaled to [0, 1], float32."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)
