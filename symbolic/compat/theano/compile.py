"""theano.function, theano.shared, theano.In / Param: mapped onto S.compile, S.shared, S.In."""

from __future__ import annotations

import symbolic as S
from symbolic.compat.theano._unsupported import reject, unsupported
from symbolic.compat.theano.configparser import config


def function(
    inputs,
    outputs=None,
    mode=None,
    updates=None,
    givens=None,
    no_default_updates=False,
    accept_inplace=False,
    name=None,
    rebuild_strict=True,
    allow_input_downcast=None,
    profile=None,
    on_unused_input=None,
):
    """theano.function → S.compile on `theano.config.device` (numpy arrays in and out)."""
    reject(
        "theano.function",
        "S.compile (a random draw's state always advances; pass its (state, state) update "
        "to replay it)",
        no_default_updates=(no_default_updates, False),
    )
    return S.compile(
        inputs,
        [] if outputs is None else outputs,
        updates=updates,
        givens=givens,
        device=config.compile_device,
        profile=bool(profile),
        allow_input_downcast=allow_input_downcast,
        on_unused_input=on_unused_input or config.on_unused_input,
        name=name,
        mode=mode if mode is not None else config.mode,
    )


def shared(value, name=None, strict=False, allow_downcast=None, borrow=False, **kwargs):
    """theano.shared → S.shared (Theano's broadcastable= is taken from the value)."""
    if set(kwargs) - {"broadcastable"}:
        raise unsupported(f"theano.shared({', '.join(kwargs)}=...)", "S.shared")
    return S.shared(value, name, borrow, strict, allow_downcast)


def In(
    variable,
    name=None,
    value=None,
    update=None,
    mutable=None,
    strict=False,
    allow_downcast=None,
    autoname=True,
    implicit=None,
    borrow=None,
    shared=False,
):
    """theano.In → S.In(variable, value, name, allow_downcast)."""
    reject(
        "theano.In",
        "S.In(variable, value, name) and a shared variable for state",
        update=(update, None),
        mutable=(bool(mutable), False),
        implicit=(bool(implicit), False),
        shared=(shared, False),
    )
    return S.In(variable, value, name, allow_downcast)


def Param(variable, default=None, name=None, mutable=False, strict=False, allow_downcast=None):
    """theano.Param (Theano's older In) → S.In(variable, value=default, name)."""
    return In(variable, name, default, mutable=mutable, allow_downcast=allow_downcast)
