"""Rewrite rules as data: a pattern, a builder, and a line of math.

    Rule("log1p", P("log", P("add", C(1), V("x"))), lambda x: S.log1p(x),
         "log(1 + x) = log1p(x): exact for tiny x")

A pattern matches a variable by the name of the op that produced it (`P`), any variable (`V`),
or a constant whose every element equals a value (`C`). Captures bind names to the matched
variables; a name used twice must bind the same variable. Arguments of commutative ops match
in either order. The builder gets the captures as keyword arguments and returns the
replacement, or None to decline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from symbolic.graph import Constant, Variable

COMMUTATIVE = frozenset({"add", "mul", "maximum", "minimum", "eq", "neq", "and", "or"})


@dataclass(frozen=True)
class Pattern:
    op: str | None = None  # the producing op's name; None matches any variable
    args: tuple | None = None  # sub-patterns for the op's inputs; None: any inputs
    name: str | None = None  # capture the matched variable under this name
    const: float | None = None  # match a constant whose every element equals this
    where: Callable | None = None  # predicate on the matched variable


def P(op: str, *args: Pattern, name: str | None = None, where=None) -> Pattern:
    """The output of op `op` whose inputs match `args` (any inputs when none are given)."""
    return Pattern(op, tuple(args) if args else None, name, None, where)


def V(name: str | None = None, where=None) -> Pattern:
    """Any variable, captured as `name`."""
    return Pattern(None, None, name, None, where)


def C(value: float, name: str | None = None) -> Pattern:
    """A constant whose every element equals `value`."""
    return Pattern(None, None, name, value, None)


def constant_value(var: Variable):
    """The single value every element of a constant holds, or None."""
    if isinstance(var, Constant) and var.data.size >= 1:
        flat = var.data.reshape(-1)
        first = flat[0]
        if var.data.size == 1 or np.all(flat == first):
            return first
    return None


def match(pattern: Pattern, var: Variable, captures: dict) -> dict | None:
    """The captures extended by matching `var`, or None."""
    if pattern.const is not None:
        value = constant_value(var)
        if value is None or value != pattern.const:
            return None
    elif pattern.op is not None:
        node = var.owner
        if node is None or node.op.name != pattern.op:
            return None
        if pattern.args is not None:
            captures = _match_args(pattern, node.inputs, captures)
            if captures is None:
                return None
    if pattern.where is not None and not pattern.where(var):
        return None
    if pattern.name is not None:
        bound = captures.get(pattern.name)
        if bound is not None and bound is not var:
            return None
        captures = {**captures, pattern.name: var}
    return captures


def _match_args(pattern: Pattern, inputs, captures):
    if len(inputs) != len(pattern.args):
        return None
    orders = [inputs]
    if pattern.op in COMMUTATIVE and len(inputs) == 2:
        orders.append(inputs[::-1])
    for candidate in orders:
        found = captures
        for sub, var in zip(pattern.args, candidate):
            found = match(sub, var, found)
            if found is None:
                break
        else:
            return found
    return None


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: Pattern
    build: Callable[..., Variable | None]
    math: str  # one line: the identity the rule applies, and why

    def apply(self, var: Variable) -> Variable | None:
        captures = match(self.pattern, var, {})
        if captures is None:
            return None
        return self.build(**{k: v for k, v in captures.items()})
