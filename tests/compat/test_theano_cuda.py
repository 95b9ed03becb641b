"""theano.config.device = "cuda" (THEANO_FLAGS=device=cuda): functions compile for the GPU
anywhere (their CUDA source can be read); calling one needs a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import theano
import theano.tensor as T

from runtime.cuda.device import CudaUnavailableError, available


def test_layer_compiles_for_cuda_and_calls_need_a_gpu():
    before = theano.config.device
    theano.config.device = "cuda"
    try:
        x = T.fmatrix("x")
        W = theano.shared(np.ones((3, 2), "float32"), name="W")
        f = theano.function([x], T.nnet.sigmoid(T.dot(x, W)).sum(), updates=[(W, W * 0.5)])
    finally:
        theano.config.device = before
    assert f.device == "cuda"
    assert all(k.target == "cuda" for k in f.kernels) and f.kernels
    assert "__global__" in f.source
    if available():  # a GPU here: the call runs and matches NumPy
        out = f(np.ones((4, 3), "float32"))
        np.testing.assert_allclose(out, 8 / (1 + np.exp(-3.0)), rtol=1e-5)
    else:
        with pytest.raises(CudaUnavailableError):
            f(np.ones((4, 3), "float32"))
        np.testing.assert_array_equal(W.get_value(), 1.0)
