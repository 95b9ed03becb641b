"""M1: one SGD training step of a 784-1024-1024-10 ReLU MLP, softmax cross-entropy on integer
labels, batch 256, learning rate 0.1, float32, for us and every peer. M2: the same step of a
512-2048-512-10 MLP at batch 128 (a shape the M1 numbers say nothing about).

Every builder starts from the same parameters and batch and returns a step that updates its
parameters and returns the loss of the batch before the update; the first call's loss is
compared with the float64 reference. G1 (bench_cold.py) times the same builders in a new process.
"""

from __future__ import annotations

import functools

import numpy as np

SIZES = (784, 1024, 1024, 10)
BATCH = 256
LR = 0.1


def mlp_inputs(seed: int = 0, sizes: tuple = SIZES, batch: int = BATCH):
    """(params, x, labels): params as [W0, b0, W1, b1, …] for layer widths `sizes` (input
    features first, classes last), He-scaled float32 weights; a batch of `batch` rows."""
    rng = np.random.default_rng(seed)
    params = []
    for a, b in zip(sizes, sizes[1:]):
        params.append((rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32))
        params.append(np.zeros(b, np.float32))
    x = rng.random((batch, sizes[0]), dtype=np.float32)
    labels = rng.integers(0, sizes[-1], batch).astype(np.int64)
    return params, x, labels


def mlp_reference(params, x, labels) -> float:
    """The loss of the batch under the initial parameters, in float64."""
    h = x.astype(np.float64)
    for i in range(0, len(params), 2):
        h = h @ params[i].astype(np.float64) + params[i + 1]
        if i < len(params) - 2:
            h = np.maximum(h, 0)
    h = h - h.max(axis=1, keepdims=True)
    logp = h - np.log(np.exp(h).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


def mlp_graph(params):
    """Our training graph: (inputs [x, y], cost, SGD updates) over shared copies of params."""
    import symbolic as S

    sx, sy = S.matrix("x"), S.vector("y", dtype="int64")
    shared = [S.shared(p.copy(), f"p{i}") for i, p in enumerate(params)]
    h = sx
    for i in range(0, len(shared), 2):
        h = h @ shared[i] + shared[i + 1]
        if i < len(shared) - 2:
            h = S.nnet.relu(h)
    cost = S.nnet.categorical_crossentropy(S.nnet.softmax(h), sy).mean()
    grads = S.grad(cost, shared)
    return [sx, sy], cost, [(p, p - LR * g) for p, g in zip(shared, grads)]


def mlp_ours(device: str, params, x, labels):
    import symbolic as S

    inputs, cost, updates = mlp_graph(params)
    f = S.compile(inputs, cost, updates=updates, device=device)
    return lambda: f(x, labels)


def mlp_pytensor(params, x, labels):
    import pytensor
    import pytensor.tensor as pt
    from pytensor.tensor.special import log_softmax

    px, py = pt.matrix("x", dtype="float32"), pt.vector("y", dtype="int64")
    shared = [pytensor.shared(p.copy(), f"p{i}") for i, p in enumerate(params)]
    h = px
    for i in range(0, len(shared), 2):
        h = pt.dot(h, shared[i]) + shared[i + 1]
        if i < len(shared) - 2:
            h = pt.maximum(h, 0)
    cost = -log_softmax(h, axis=1)[pt.arange(py.shape[0]), py].mean()
    grads = pytensor.grad(cost, shared)
    lr = np.float32(LR)
    f = pytensor.function([px, py], cost, updates=[(p, p - lr * g) for p, g in zip(shared, grads)])
    return lambda: f(x, labels)


def jax_sgd_step(loss, params, x, labels, lr: float):
    """A call running one jitted SGD step of `loss(ps, x, y)` and returning the loss; the
    parameters are donated (the old parameters' buffers hold the new ones)."""
    import jax

    def step(ps, x, y):
        value, grads = jax.value_and_grad(loss)(ps, x, y)
        return value, [p - lr * g for p, g in zip(ps, grads)]

    step = jax.jit(step, donate_argnums=0)
    state = [jax.device_put(p.copy()) for p in params]
    jx, jy = jax.device_put(x), jax.device_put(labels.astype(np.int32))

    def run():
        value, state[:] = step(state, jx, jy)
        return jax.block_until_ready(value)

    return run


def torch_sgd_step(logits, params, x, labels, lr: float, device="cpu", compiled=False):
    """A call running one eager SGD step of the cross-entropy of `logits(ps, x)` (tensors on
    `device`; the loss through torch.compile if `compiled`)."""
    import torch
    import torch.nn.functional as F

    ps = [torch.tensor(p, requires_grad=True, device=device) for p in params]
    tx, ty = torch.from_numpy(x).to(device), torch.from_numpy(labels).to(device)

    def loss_of(tx, ty):
        return F.cross_entropy(logits(ps, tx), ty)

    loss_of = torch.compile(loss_of) if compiled else loss_of

    def run():
        loss = loss_of(tx, ty)
        grads = torch.autograd.grad(loss, ps)
        with torch.no_grad():
            for p, g in zip(ps, grads):
                p.sub_(g, alpha=lr)
        return loss.detach()

    return run


def mlp_jax(params, x, labels):
    import jax
    import jax.numpy as jnp

    def loss(ps, x, y):
        h = x
        for i in range(0, len(ps), 2):
            h = h @ ps[i] + ps[i + 1]
            if i < len(ps) - 2:
                h = jax.nn.relu(h)
        logp = jax.nn.log_softmax(h, axis=1)
        return -jnp.take_along_axis(logp, y[:, None], axis=1).mean()

    return jax_sgd_step(loss, params, x, labels, LR)


def mlp_torch(params, x, labels, device: str = "cpu", compiled: bool = False):
    """PyTorch's eager step on `device` (the forward pass through torch.compile if `compiled`)."""
    import torch

    def logits(ps, h):
        for i in range(0, len(ps), 2):
            h = torch.addmm(ps[i + 1], h, ps[i])
            if i < len(ps) - 2:
                h = torch.relu(h)
        return h

    return torch_sgd_step(logits, params, x, labels, LR, device, compiled)


def mlp_numpy(params, x, labels):
    """Forward and backward written by hand, updating the parameters in place."""
    ps = [p.copy() for p in params]
    n = len(labels)
    rows = np.arange(n)

    def run():
        acts, h = [x], x
        for i in range(0, len(ps), 2):
            h = h @ ps[i] + ps[i + 1]
            if i < len(ps) - 2:
                h = np.maximum(h, 0)
                acts.append(h)
        h = h - h.max(axis=1, keepdims=True)
        e = np.exp(h)
        s = e.sum(axis=1, keepdims=True)
        loss = -(h[rows, labels] - np.log(s[:, 0])).mean()
        d = e / s  # d loss / d logits = (softmax - onehot) / n
        d[rows, labels] -= 1
        d /= n
        for i in range(len(ps) - 2, -1, -2):
            a = acts[i // 2]
            gW, gb = a.T @ d, d.sum(axis=0)
            if i > 0:
                d = (d @ ps[i].T) * (a > 0)  # relu' on the layer's output
            ps[i] -= LR * gW
            ps[i + 1] -= LR * gb
        return loss

    return run


def mlp_spec(sizes: tuple, batch: int) -> dict:
    """The workload (run.py's spec) of the SGD step for layer widths `sizes` at `batch` rows:
    every builder reads its sizes from the parameters and batch it is given."""
    return {
        "inputs": functools.partial(mlp_inputs, sizes=sizes, batch=batch),
        "reference": mlp_reference,
        "ours": mlp_ours,
        "peers": {
            "numpy": mlp_numpy,
            "pytensor": mlp_pytensor,
            "jax": mlp_jax,
            "torch": mlp_torch,
        },
        "size": (
            f"MLP {'-'.join(map(str, sizes))}, batch {batch}, SGD lr {LR}, float32, int64 labels"
        ),
    }


M1 = mlp_spec(SIZES, BATCH)
M2 = mlp_spec((512, 2048, 512, 10), 128)  # wider hidden layer, narrower input, half the batch
