"""theano.ifelse.ifelse → S.where.

Only acceptable where both branches are safe to compute: S.where evaluates both (Theano's
ifelse evaluates the taken one only), so a branch that fails, loops or is costly on the other
condition's data fails or costs here too.
"""

from __future__ import annotations

import symbolic as S


def ifelse(condition, then_branch, else_branch, name=None):
    """`then_branch` where the scalar `condition` is true, else `else_branch` (lists pairwise);
    both branches are computed (see the module's text)."""
    if isinstance(then_branch, (list, tuple)):
        return [S.where(condition, a, b) for a, b in zip(then_branch, else_branch)]
    return S.where(condition, then_branch, else_branch)
