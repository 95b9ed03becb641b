"""The specialize rules."""

from __future__ import annotations

from symbolic.optimizer.pattern import Rule

SPECIALIZE: list[Rule] = []
