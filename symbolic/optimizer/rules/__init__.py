"""The rule sets of the rewriting phases, one module each."""

from symbolic.optimizer.rules.canonicalize import CANONICALIZE
from symbolic.optimizer.rules.specialize import SPECIALIZE
from symbolic.optimizer.rules.stabilize import STABILIZE

__all__ = ["CANONICALIZE", "SPECIALIZE", "STABILIZE"]
