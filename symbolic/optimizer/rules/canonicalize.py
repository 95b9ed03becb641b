"""The canonicalize rules."""

from __future__ import annotations

from symbolic.optimizer.pattern import Rule

CANONICALIZE: list[Rule] = []
