"""Freed memory stays mapped between calls, so a step with large temporaries does not fault
its pages in again on every call (runtime/memory.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

GLIBC = hasattr(os, "confstr") and os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")

# A LeNet-sized convolution layer with its gradients: ~30 MB of temporaries per call.
SCRIPT = textwrap.dedent(
    """
    import resource
    import numpy as np
    import symbolic as S

    x = S.tensor4("x")
    w = S.shared(np.ones((50, 20, 5, 5), np.float32) * 0.01, "w")
    y = S.nnet.max_pool2d(S.nnet.conv2d(x * 1, w), 2)
    f = S.compile([x], S.grad(S.sum(y * y), [x, w]), device="cpu")
    v = np.ones((64, 20, 12, 12), np.float32)
    for _ in range(3):
        f(v)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        f(v)
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
    """
)


def faults_per_call(env: dict) -> float:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout.split()[-1])


@pytest.mark.skipif(not GLIBC, reason="M_TOP_PAD is a glibc setting")
def test_a_step_with_large_temporaries_does_not_fault_pages_in_again():
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TOP_PAD_"}
    assert faults_per_call(env) < 50  # without the padding: about 2,000 per call


@pytest.mark.skipif(not GLIBC, reason="M_TOP_PAD is a glibc setting")
def test_the_users_malloc_top_pad_wins():
    """MALLOC_TOP_PAD_=0 asks glibc to trim as usual: the pages fault in again each call."""
    assert faults_per_call(dict(os.environ, MALLOC_TOP_PAD_="0")) > 500
