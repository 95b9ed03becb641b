"""Batch normalization (`S.nnet.batch_norm`): training and inference forms."""

from __future__ import annotations

from symbolic import dtypes
from symbolic.elemwise import cast, sqrt, square, sub, true_div
from symbolic.graph import SharedVariable, Variable, as_variable
from symbolic.reduction import mean
from symbolic.shape import Size, dimshuffle


def batch_norm(
    x,
    gamma=None,
    beta=None,
    running_mean: SharedVariable | None = None,
    running_var: SharedVariable | None = None,
    training: bool = True,
    momentum: float = 0.1,
    epsilon: float = 1e-5,
) -> tuple[Variable, list[tuple[SharedVariable, Variable]]]:
    """Normalize each channel (axis 1) of x, then scale by gamma and shift by beta.

    out = (x − μ) / sqrt(σ² + epsilon) · gamma + beta, with μ and σ² per channel over every
    other axis: the batch axis, and the spatial axes of (N, C, H, W) input.

    Parameters
    ----------
    x : tensor of 2 or more axes, channels on axis 1.
    gamma, beta : per-channel vectors (None: 1 and 0).
    running_mean, running_var : per-channel shared vectors of running statistics.
    training : True: μ and σ² are the batch's own (biased) mean and variance, and gradients
        flow through them; the updates move the running statistics towards the batch's:
        r ← (1 − momentum)·r + momentum·s, with the unbiased variance (n/(n − 1), n the values
        per channel) for `running_var`, as PyTorch does. False: μ and σ² are the running
        statistics (both required) and there are no updates.
    momentum, epsilon : as above.

    Returns
    -------
    (out, updates): `updates` is a list of (shared, new value) pairs to pass to `S.compile`
    (empty in inference, or without running statistics).
    """
    x = as_variable(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm needs channels on axis 1, got {x.describe()}")
    axes = (0,) + tuple(range(2, x.ndim))
    channels = x.type.shape[1]

    def per_channel(v, what: str) -> Variable:
        v = as_variable(v, [x])
        if v.ndim != 1 or (channels is not None and v.type.shape[0] not in (None, channels)):
            raise ValueError(
                f"batch_norm: {what} must be a vector of one value per channel "
                f"({channels} for x of shape {x.type.shape}), got {v.describe()}"
            )
        return dimshuffle(v, "x", 0, *["x"] * (x.ndim - 2))

    updates = []
    if training:
        mu = mean(x, axes, keepdims=True)
        centered = sub(x, mu)
        var = mean(square(centered), axes, keepdims=True)
        if (running_mean is None) != (running_var is None):
            raise ValueError("batch_norm: give both running_mean and running_var, or neither")
        if running_mean is not None:
            n = cast(Size(axes)(x), dtypes.to_float(x.dtype))
            batch = {running_mean: mu, running_var: var * (n / (n - 1))}
            for r, stat in batch.items():
                per_channel(r, "the running statistics")
                new = (1 - momentum) * r + momentum * cast(stat.flatten(), r.dtype)
                updates.append((r, new))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm(training=False) needs running_mean and running_var")
        centered = sub(x, per_channel(running_mean, "running_mean"))
        var = per_channel(running_var, "running_var")
    scale = true_div(1, sqrt(var + epsilon))
    if gamma is not None:
        scale = scale * per_channel(gamma, "gamma")
    out = centered * scale
    return (out if beta is None else out + per_channel(beta, "beta")), updates
