"""The fuzzer's comparison itself: a gradient whose terms cancel is compared at the scale of
what it is computed from, and a real difference still fails."""

from __future__ import annotations

import numpy as np
import pytest
from batch_check import Batch, mismatches, term_scales
from random_graphs import random_graph

# 600193: arccos(-0.95 + 1.9 sigmoid(x2)) broadcast to 3 equal elements: the cost's random
# weights of both signs nearly cancel, so the gradient is 1e-4 of its terms.
# 607139: x2 reaches the outputs only through logsumexp(log_softmax(x2)), which is 0: its
# gradient is 0 in exact arithmetic and a rounding residue (1e-17) of O(1) terms in floats.
CANCELLING = [600193, 607139]


def _gradient_index(batch: Batch) -> int:
    return next(k for k, label in enumerate(batch.labels) if label.label == "gradient of x2")


@pytest.mark.parametrize("seed", CANCELLING)
def test_cancelling_gradient_is_compared_at_the_scale_of_its_terms(seed):
    batch = Batch([random_graph(seed)])
    want = batch.compile("numpy", optimize=False)(*batch.values)
    k = _gradient_index(batch)
    terms = term_scales(batch)
    assert terms[k] > 1e3 * float(np.max(np.abs(want[k])))
    got = list(want)
    got[k] = want[k] + 4 * np.finfo(np.float64).eps * terms[k]  # a few ulps of the terms
    assert mismatches(batch, got, want)  # at the gradient's own scale: flagged
    assert not mismatches(batch, got, want, terms)  # at its terms' scale: rounding
    got[k] = want[k] + 1e-6 * terms[k]  # a real error, far above rounding
    assert mismatches(batch, got, want, terms)
