"""The stabilize rules."""

from __future__ import annotations

from symbolic.optimizer.pattern import Rule

STABILIZE: list[Rule] = []
