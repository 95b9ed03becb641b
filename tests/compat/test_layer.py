"""The Theano layer's mappings one by one: constructors, config, install, unsupported names,
and the functions whose mapping has arguments to translate."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import theano
import theano.tensor as T
from theano.tensor.signal import pool

import symbolic as S
import symbolic.compat.theano as layer
from symbolic.compat.theano.configparser import Config

# (Theano constructor, dtype, static shape)
CONSTRUCTORS = [
    ("scalar", "float32", ()),
    ("vector", "float32", (None,)),
    ("row", "float32", (1, None)),
    ("col", "float32", (None, 1)),
    ("tensor5", "float32", (None,) * 5),
    ("bscalar", "int8", ()),
    ("wvector", "int16", (None,)),
    ("iscalar", "int32", ()),
    ("lscalar", "int64", ()),
    ("ivector", "int32", (None,)),
    ("lvector", "int64", (None,)),
    ("fmatrix", "float32", (None, None)),
    ("dtensor4", "float64", (None,) * 4),
    ("brow", "int8", (1, None)),
    ("dcol", "float64", (None, 1)),
    ("ftensor3", "float32", (None,) * 3),
]


@pytest.mark.parametrize("name,dtype,shape", CONSTRUCTORS)
def test_constructor_families(name, dtype, shape):
    v = getattr(T, name)("v")
    assert (v.name, v.dtype, v.type.shape) == ("v", dtype, shape)


def test_generic_constructors_take_floatx_and_dtype():
    assert T.matrix().dtype == "float32" and T.matrix(dtype="int64").dtype == "int64"
    assert T.vector("y", dtype="floatX").dtype == "float32"
    t = T.TensorType("float64", (False, True, False))("t")
    assert t.type.shape == (None, 1, None) and t.dtype == "float64"
    a, b = T.fmatrices("a", "b")
    assert (a.name, b.name, a.dtype) == ("a", "b", "float32")
    assert len(T.dscalars(3)) == 3


def test_complex_constructors_are_unsupported():
    with pytest.raises(NotImplementedError, match="cmatrix"):
        T.cmatrix("z")


@pytest.mark.parametrize(
    "reach",
    [
        lambda: T.cumsum,
        lambda: theano.sparse,
        lambda: T.nnet.elu,
        lambda: pool.max_pool_2d_same_size,
        lambda: theano.config.lib,
        lambda: __import__("theano.misc.pkl_utils"),
        lambda: T.shared_randomstreams.RandomStreams(1).choice,
    ],
)
def test_unsupported_names_raise_not_implemented_naming_them(reach):
    with pytest.raises(NotImplementedError, match="not supported by symbolic's Theano layer"):
        reach()


def test_install_resolves_every_submodule_to_the_layer():
    import theano.sandbox.rng_mrg
    import theano.tensor.nnet.conv

    assert sys.modules["theano"] is layer
    assert theano.tensor.signal.pool is pool
    assert theano.sandbox.rng_mrg.MRG_RandomStreams.default_seed == 12345
    assert callable(theano.tensor.nnet.conv.conv2d)


def test_install_refuses_when_a_real_theano_is_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "theano", types.ModuleType("theano"))
    with pytest.raises(RuntimeError, match="already imported"):
        layer.install()


def test_config_reads_theano_flags():
    config = Config("device=cuda0,floatX=float32,optimizer=fast_run,lib.cnmem=0.8")
    assert (config.device, config.compile_device, config.floatX) == ("cuda0", "cuda", "float32")
    assert config.ignored == {"optimizer": "fast_run", "lib.cnmem": "0.8"}
    assert Config("device=gpu").compile_device == "cuda"
    assert Config("").compile_device == "cpu"
    with pytest.raises(NotImplementedError, match="floatX = 'float16'"):
        Config("floatX=float16")
    with pytest.raises(NotImplementedError, match="opencl0"):
        Config("device=opencl0")


def test_function_options(theano_device):
    x = T.vector("x")
    assert theano.function([x], outputs=None, on_unused_input="ignore")([1.0]) == []
    with pytest.raises(NotImplementedError, match="no_default_updates"):
        theano.function([x], x, no_default_updates=True)
    f = theano.function([x], x * 2, allow_input_downcast=True, name="double")
    assert f.name == "double" and f.device == theano_device
    np.testing.assert_array_equal(f(np.ones(2)), [2.0, 2.0])
    with pytest.raises(NotImplementedError, match="update"):
        theano.In(x, update=x + 1)
    s = T.scalar("s")
    g = theano.function([x, theano.Param(s, default=3.0)], x * s)
    np.testing.assert_array_equal(g([1.0]), [3.0])
    np.testing.assert_array_equal(g([1.0], s=2.0), [2.0])


def test_ifelse_is_where_of_both_branches(theano_device):
    from theano.ifelse import ifelse

    a, b, c = T.scalar("a"), T.vector("b"), T.vector("c")
    f = theano.function([a, b, c], ifelse(T.lt(a, 0), b, c))
    np.testing.assert_array_equal(f(-1.0, [1.0], [2.0]), [1.0])
    np.testing.assert_array_equal(f(1.0, [1.0], [2.0]), [2.0])
    g = theano.function([a, b, c], ifelse(T.lt(a, 0), [b, c], [c, b]))
    np.testing.assert_array_equal(g(1.0, [1.0], [2.0]), [[2.0], [1.0]])


# Theano's pool mode -> the symbolic call it must equal
POOL_MODES = {
    "max": lambda x: S.nnet.max_pool2d(x, (2, 3), (1, 2), (1, 1)),
    "sum": lambda x: S.nnet.sum_pool2d(x, (2, 3), (1, 2), (1, 1)),
    "average_inc_pad": lambda x: S.nnet.avg_pool2d(x, (2, 3), (1, 2), (1, 1)),
    "average_exc_pad": lambda x: S.nnet.avg_pool2d(x, (2, 3), (1, 2), (1, 1), False),
}


@pytest.mark.parametrize("mode", POOL_MODES)
def test_pool_2d_modes(mode, rng):
    x = T.tensor4("x", dtype="float64")
    values = rng.standard_normal((2, 3, 5, 7))
    got = pool.pool_2d(x, ws=(2, 3), ignore_border=True, stride=(1, 2), pad=(1, 1), mode=mode)
    old = pool.pool_2d(x, ds=(2, 3), ignore_border=True, st=(1, 2), padding=(1, 1), mode=mode)
    want = POOL_MODES[mode](x)
    f = S.compile([x], [got, old, want], device="numpy")
    a, b, c = f(values)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(b, c)


def test_pool_2d_ignore_border_false_keeps_partial_windows(rng):
    x = T.dtensor4("x")
    values = rng.standard_normal((1, 2, 5, 7))
    kept = pool.pool_2d(x, (2, 2), mode="average_exc_pad")  # Theano's default: False
    dropped = pool.pool_2d(x, (2, 2), ignore_border=True, mode="average_exc_pad")
    got, floor = S.compile([x], [kept, dropped], device="numpy")(values)
    assert got.shape == (1, 2, 3, 4) and floor.shape == (1, 2, 2, 3)
    np.testing.assert_allclose(got[:, :, :2, :3], floor, rtol=1e-15)
    np.testing.assert_allclose(got[:, :, 2, 3], values[:, :, 4, 6], rtol=1e-15)  # a 1×1 corner
    with pytest.raises(NotImplementedError, match="padding"):
        pool.pool_2d(x, (2, 2), ignore_border=False, pad=(1, 1))


def test_conv2d_filter_flip_and_old_conv_module(rng):
    x, w = T.dtensor4("x"), T.dtensor4("w")
    xv, wv = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 2))
    flipped = T.nnet.conv2d(x, w, filter_shape=wv.shape, border_mode="full")
    plain = T.nnet.conv2d(x, w, border_mode=(1, 2), subsample=(2, 1), filter_flip=False)
    old = T.nnet.conv.conv2d(x, w, filter_shape=wv.shape, border_mode="full")
    f = S.compile([x, w], [flipped, plain, old], device="numpy")
    got = f(xv, wv)
    want = S.compile([x, w], [S.nnet.conv2d(x, w, 1, (2, 1), flip=True),
                              S.nnet.conv2d(x, w, (2, 1), (1, 2))], device="numpy")(xv, wv)  # fmt: skip
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[0])
    with pytest.raises(NotImplementedError, match="filter_dilation"):
        T.nnet.conv2d(x, w, filter_dilation=(2, 2))


def test_random_streams_dtypes_and_seeding():
    from theano.sandbox.rng_mrg import MRG_RandomStreams

    for streams in (T.shared_randomstreams.RandomStreams(3), MRG_RandomStreams(3)):
        u, n = streams.uniform((2, 3)), streams.normal((4,), avg=1.0, std=0.1)
        b, m = streams.binomial((5,), p=0.3), streams.multinomial(pvals=[[0.2, 0.8]])
        assert (u.dtype, n.dtype, b.dtype, m.dtype) == ("float32", "float32", "int64", "int64")
        f = theano.function([], [u, n, b, m])
        first = f()
        streams.seed(3)
        for a, c in zip(first, f()):
            np.testing.assert_array_equal(a, c)
    with pytest.raises(NotImplementedError, match="truncate"):
        MRG_RandomStreams(1).normal((2,), truncate=True)


def test_gradient_module(theano_device):
    from theano import gradient

    x = T.dvector("x")
    y = (gradient.disconnected_grad(x) * x).sum() + gradient.zero_grad(x).sum()
    f = theano.function([x], theano.grad(y, x))
    np.testing.assert_array_equal(f([1.0, 2.0]), [1.0, 2.0])
    gradient.verify_grad(lambda v: T.tanh(v) ** 2, [np.array([0.1, -0.4])], n_tests=1)
    xs = S.tensor("xs", "float64", (2,))  # S.jacobian needs the size at build time
    J = theano.function([xs], gradient.jacobian(xs**2, xs))
    H = theano.function([xs], gradient.hessian((xs**3).sum(), xs))
    np.testing.assert_allclose(J([1.0, 2.0]), np.diag([2.0, 4.0]))
    np.testing.assert_allclose(H([1.0, 2.0]), np.diag([6.0, 12.0]))
    with pytest.raises(NotImplementedError, match="known_grads"):
        theano.grad(y, x, known_grads={x: x})


def test_printing_and_clone(tmp_path):
    x = T.vector("x")
    y = T.exp(x) + 1
    assert "exp" in theano.printing.debugprint(y, file="str")
    z = theano.clone(y, replace={x: T.log(x)})
    f = theano.function([x], z)
    np.testing.assert_allclose(f([2.0]), [3.0], rtol=1e-6)
    (written,) = theano.printing.pydotprint(f, str(tmp_path / "graph.svg"))
    assert "exp" in open(written).read()


def test_tensor_functions_in_theano_argument_order(theano_device):
    m = T.matrix("m")
    values = np.arange(6, dtype="float32").reshape(2, 3)
    outputs = [
        T.sum(m, 0, "float64"),
        T.mean(m, None, "float64"),
        T.switch(T.gt(m, 2), m, T.zeros_like(m)),
        T.stack(m[0], m[1]),
        T.stack([m[0], m[1]], axis=1),
        T.join(0, m, m),
        T.flatten(m, outdim=1),
        T.shape_padleft(m[0]),
        T.cast(m, "floatX"),
        T.sqr(m),
        T.add(m, m, m),
        T.alloc(1.0, 2, 2),
        T.max_and_argmax(m, axis=1)[1],
    ]
    got = theano.function([m], outputs)(values)
    want = [values.sum(0, dtype="float64"), values.mean(dtype="float64"),
            np.where(values > 2, values, 0), np.stack([values[0], values[1]]),
            np.stack([values[0], values[1]], 1), np.concatenate([values, values]),
            values.ravel(), values[0][None], values, values**2, 3 * values, np.ones((2, 2)),
            values.argmax(1)]  # fmt: skip
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    assert got[0].dtype == np.float64


def test_truth_value_rule_as_theano():
    a, b, c = T.scalar("a"), T.scalar("b"), T.scalar("c")
    assert bool(a) and (a or b) is a
    with pytest.raises(TypeError):
        a < b < c  # noqa: B015 - Theano refuses the chain too
