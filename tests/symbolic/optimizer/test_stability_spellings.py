"""Every stabilize rule fires for every way its formula can be written, from one table.

A spelling is one way of writing the same formula: the axes its reduction covers (all of them,
a vector's, a leading one, a negative one, several), how the reduced result comes back against
its input (keepdims, a dimshuffle, broadcasting), `mean` for `sum`, methods for functions, a
constant shift written inside exp, and some of these combined; each in float32 and float64.
Each rule gives its formula in terms of a spelling, and names every spelling that does not
apply to it with the reason. Each formula runs on every device (numpy, cpu, and cuda where
there is a GPU or --cuda-host) at inputs where the naive form overflows or cancels: the result
is finite, equals the closed form computed stably in float64, and the rule is listed in
`f.rewrites`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import symbolic as S
from symbolic.optimizer.rules import STABILIZE
from symbolic.optimizer.rules.reduced import put_back_order
from symbolic.reduction import reduced_axes

DTYPES = ["float32", "float64"]  # every spelling runs in both
LABELS = np.array([2, 0, 1])  # one per row of the (3, 4) logits


@dataclass(frozen=True)
class Spelling:
    name: str
    shape: tuple = (3, 4)  # the input's
    axis: object = 1  # the reduction's axis as the user writes it
    back: str = "keepdims"  # how the reduced axes come back: keepdims, dimshuffle or broadcast
    method: bool = False  # e.sum(…) rather than S.sum(e, …)
    mean: bool = False  # mean in place of sum
    shift: float = 0.0  # the formula of x − shift: exp(x − c) as users write it

    @property
    def axes(self) -> tuple:
        return reduced_axes(self.axis, len(self.shape))

    @property
    def count(self) -> int:
        return math.prod(self.shape[a] for a in self.axes)

    def reduce(self, kind: str, e):
        """kind(e) over this spelling's axes, written its way, coming back against e."""
        name = "mean" if self.mean and kind == "sum" else kind
        call = getattr(e, name) if self.method else lambda **kw: getattr(S, name)(e, **kw)
        axis = {} if self.axis is None else {"axis": self.axis}  # e.sum() for every axis
        if self.back == "keepdims":
            return call(**axis, keepdims=True)
        if self.back == "dimshuffle":
            return call(**axis).dimshuffle(*put_back_order(self.axes, e.ndim))
        assert self.axes == tuple(range(len(self.axes)))  # broadcasting pads leading axes
        return call(**axis)

    def as_written(self, kept: np.ndarray) -> np.ndarray:
        """A keepdims reference result in the shape this spelling's reduction has."""
        return kept.squeeze(self.axes) if self.back == "broadcast" else kept

    def value(self, hard, dtype: str) -> np.ndarray:
        data = np.resize(np.asarray(hard, np.float64), self.shape) + self.shift
        return data.astype(dtype)


# fmt: off
SPELLINGS = [
    Spelling("base"),
    Spelling("dimshuffle", back="dimshuffle"),
    Spelling("all_axes", axis=None, back="broadcast"),
    Spelling("vector", shape=(5,), axis=0, back="broadcast"),
    Spelling("leading_axis", axis=0, back="broadcast"),
    Spelling("negative_axis", axis=-1),
    Spelling("several_axes", shape=(2, 3, 4), axis=(-2, -1)),
    Spelling("mean", mean=True),
    Spelling("method", method=True),
    Spelling("constant_shift", shift=3.0),
    # spellings combined
    Spelling("method_all_axes", axis=None, back="broadcast", method=True),
    Spelling("mean_all_axes", axis=None, back="broadcast", mean=True),
    Spelling("mean_dimshuffle", back="dimshuffle", mean=True),
    Spelling("axes_apart", shape=(2, 3, 4), axis=(0, -1)),
]
# fmt: on
NAMES = [s.name for s in SPELLINGS]

# ---- float64 closed forms, computed stably ----------------------------------------------------


def softplus(x):
    return np.logaddexp(0, x)


def sigmoid(x):
    return np.exp(-softplus(-x))


def log1mexp(x):
    with np.errstate(all="ignore"):  # both branches are evaluated
        return np.where(x > -np.log(2), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def erfc(x):
    return np.vectorize(math.erfc)(x)


def lse(x, axes):  # kept axes
    m = x.max(axis=axes, keepdims=True)
    return m + np.log(np.exp(x - m).sum(axis=axes, keepdims=True))


def log_softmax(x, axes):
    return x - lse(x, axes)


def xent(x):
    return -log_softmax(x, 1)[np.arange(len(x)), LABELS]


# ---- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    rule: str
    formula: Callable  # (x, spelling) -> the naive expression
    reference: Callable  # (x in float64, spelling) -> its closed form
    hard: list  # inputs at the edge: np.resize fills the spelling's shape with them
    not_applicable: dict = field(default_factory=dict)  # spelling name -> why
    # spelling name -> (the rule that makes that spelling stable instead, why)
    fired_by: dict = field(default_factory=dict)

    def fires(self, spelling: Spelling) -> str:
        return self.fired_by.get(spelling.name, (self.rule,))[0]


LOGITS = [1000.0, -1000.0, 0.0, 5.0, -3.0, 80.0, -80.0]  # e^±1000 overflows
NEAR_ONE = [1000.0, -1000.0, 0.0, 27.63, -27.63, 80.0]  # σ(27.63) = 1 − 1e-12
TINY = [1e-10, -1e-10, 1e-20, 3e-8, 0.0, -2e-9]
NEGATIVE = [-1e-5, -1e-3, -1.0, -50.0, -1000.0]
ERF_UP, ERF_DOWN = [5.0, 6.0, 8.0, -5.0, 0.0], [-5.0, -6.0, -8.0, 5.0, 0.0]

NO_REDUCTION = "elementwise: the formula has no reduction"
ELEMENTWISE_NA = {
    **dict.fromkeys(
        [s.name for s in SPELLINGS if s.name not in ("base", "vector", "method", "constant_shift")],
        NO_REDUCTION,
    ),
    "method": "elementwise functions have no method spelling (there is no x.exp())",
}
ONE_AXIS = (
    "log_exp",
    "the log_softmax op has one axis: over several, softmax becomes e^(y − logsumexp y) with "
    "y = x − max x, and log_exp takes its log",
)
ROWS_OF_MATRIX = "crossentropy_softmax takes the rows of a matrix: axis 1 only"
XENT_NA = {
    **{s.name: ROWS_OF_MATRIX for s in SPELLINGS if s.shape != (3, 4) or s.axes != (1,)},
    **dict.fromkeys(
        ["dimshuffle", "mean_dimshuffle"],
        "no reduced result is put back: the rows' losses are the output",
    ),
}


def elementwise(rule, formula, reference, hard) -> Row:
    """A rule without a reduction: the formula of z = x − shift, at every shape."""
    return Row(
        rule,
        lambda x, sp: formula(x - sp.shift if sp.shift else x),
        lambda x, sp: reference(x - sp.shift),
        hard,
        ELEMENTWISE_NA,
    )


def z_of(x, sp):
    return x - sp.shift if sp.shift else x


def naive_softmax(x, sp):
    e = S.exp(z_of(x, sp))
    return e / sp.reduce("sum", e)


def softmax_reference(x, sp):  # e^z / mean e^z is n · softmax(z)
    return np.exp(log_softmax(x - sp.shift, sp.axes)) * (sp.count if sp.mean else 1)


def log_of_softmax_reference(x, sp):  # log(e^z / mean e^z) is log_softmax(z) + log n
    return log_softmax(x - sp.shift, sp.axes) + (np.log(sp.count) if sp.mean else 0)


def shifted(fn):
    """fn(z − m, last axis) with m = max z (the mean spelling shifts by the mean instead)."""

    def formula(x, sp):
        z = z_of(x, sp)
        return fn(z - sp.reduce("sum" if sp.mean else "max", z), sp.axes[-1])

    return formula


def rows(source, x):
    """source[i, y_i]: one entry per row."""
    return source[S.arange(x.shape[0]), LABELS]


def total(losses, sp):
    """The rows' losses, summed by the method spelling and averaged by the mean spelling."""
    return losses.sum() if sp.method else S.mean(losses) if sp.mean else losses


def xent_reference(x, sp):
    loss = xent(x - sp.shift)
    return loss.sum() if sp.method else loss.mean() if sp.mean else loss


# fmt: off
ROWS = [
    elementwise("softplus_from_log", lambda z: S.log(1 + S.exp(z)), softplus, NEAR_ONE),
    elementwise("log1p", lambda z: S.log(1 + z), np.log1p, TINY),
    elementwise("log1p_neg", lambda z: S.log(1 - z), lambda z: np.log1p(-z), TINY),
    elementwise("expm1", lambda z: S.exp(z) - 1, np.expm1, TINY),
    elementwise("expm1_add", lambda z: S.exp(z) + -1.0, np.expm1, TINY),
    elementwise("log_exp", lambda z: S.log(S.exp(z)), lambda z: z, LOGITS),
    elementwise("softplus_from_log1p", lambda z: S.log1p(S.exp(z)), softplus, NEAR_ONE),
    elementwise("log1mexp_from_log1p", lambda z: S.log1p(-S.exp(z)), log1mexp, NEGATIVE),
    elementwise("log1mexp_from_expm1", lambda z: S.log(-S.expm1(z)), log1mexp, NEGATIVE),
    elementwise("log_sigmoid", lambda z: S.log(S.sigmoid(z)), lambda z: -softplus(-z), NEAR_ONE),
    elementwise("one_minus_sigmoid", lambda z: 1 - S.sigmoid(z), lambda z: sigmoid(-z), NEAR_ONE),
    elementwise("sigmoid_from_reciprocal", lambda z: 1 / (1 + S.exp(-z)), sigmoid, NEAR_ONE),
    elementwise("sigmoid_from_reciprocal_op", lambda z: S.reciprocal(1 + S.exp(-z)), sigmoid,
                NEAR_ONE),
    elementwise("sigmoid_from_quotient", lambda z: S.exp(z) / (1 + S.exp(z)), sigmoid, NEAR_ONE),
    elementwise("double_neg", lambda z: S.neg(S.neg(z)), lambda z: z, LOGITS),
    elementwise("erfc", lambda z: 1 - S.erf(z), erfc, ERF_UP),
    elementwise("erfc_neg", lambda z: 1 + S.erf(z), lambda z: erfc(-z), ERF_DOWN),
    elementwise("neg_erfc", lambda z: S.erf(z) - 1, lambda z: -erfc(z), ERF_UP),
    Row("softmax", naive_softmax, softmax_reference, LOGITS),
    Row("softmax_shift", shifted(S.nnet.softmax),
        lambda x, sp: np.exp(log_softmax(x - sp.shift, sp.axes[-1])), LOGITS),
    Row("log_softmax_shift", shifted(S.nnet.log_softmax),
        lambda x, sp: log_softmax(x - sp.shift, sp.axes[-1]), LOGITS),
    Row("log_softmax", lambda x, sp: S.log(naive_softmax(x, sp)),
        log_of_softmax_reference, LOGITS, {},
        dict.fromkeys(["all_axes", "several_axes", "method_all_axes", "axes_apart"], ONE_AXIS)),
    Row("logsumexp", lambda x, sp: S.log(sp.reduce("sum", S.exp(z_of(x, sp)))),
        lambda x, sp: sp.as_written(lse(x - sp.shift, sp.axes)
                                    - (np.log(sp.count) if sp.mean else 0)), LOGITS),
    Row("log_softmax_from_logsumexp",
        lambda x, sp: z_of(x, sp) - S.log(sp.reduce("sum", S.exp(z_of(x, sp)))),
        log_of_softmax_reference, LOGITS),
    Row("crossentropy_from_log_softmax",
        lambda x, sp: total(-rows(S.nnet.log_softmax(z_of(x, sp), sp.axis), x), sp),
        xent_reference, LOGITS, XENT_NA),
    Row("crossentropy_from_softmax",
        lambda x, sp: total(-S.log(rows(S.nnet.softmax(z_of(x, sp), sp.axis), x)), sp),
        xent_reference, LOGITS, XENT_NA),
]
# fmt: on
CASES = [(row, sp) for row in ROWS for sp in SPELLINGS if sp.name not in row.not_applicable]
CASE_IDS = [f"{row.rule}-{sp.name}" for row, sp in CASES]
# the rows with a reduction (test_stabilize.py checks the elementwise ones' gradients)
REDUCING = [(row, sp) for row, sp in CASES if row.not_applicable is not ELEMENTWISE_NA]


DOC = Path(__file__).parents[3] / "docs" / "optimizer.md"


def render_spelling_table() -> str:
    """The table of docs/optimizer.md: ✓ where a rule fires in a spelling, else a note."""
    notes: list[str] = []

    def cell(row: Row, name: str) -> str:
        if name in row.not_applicable:
            why, text = row.not_applicable[name], "n/a"
        elif name in row.fired_by:
            rule, why = row.fired_by[name]
            text = f"`{rule}`"
        else:
            return "✓"
        notes.extend([why] if why not in notes else [])
        return f"{text} ({notes.index(why) + 1})"

    lines = ["| rule | " + " | ".join(NAMES) + " |", "|---" * (len(NAMES) + 1) + "|"]
    for row in ROWS:
        lines.append(f"| `{row.rule}` | " + " | ".join(cell(row, n) for n in NAMES) + " |")
    lines += [""] + [f"({i}) {why}.  " for i, why in enumerate(notes, 1)]
    return "\n".join(lines).rstrip()


def test_spelling_table_in_docs_is_current():
    table = DOC.read_text().split("<!-- spellings:begin -->\n")[1].split("\n<!-- spellings:end")[0]
    assert table == render_spelling_table(), (
        "run: python tests/symbolic/optimizer/test_stability_spellings.py"
    )


def tolerance(dtype: str) -> dict:  # relative, down to the smallest normal number
    return dict(rtol=2e-5 if dtype == "float32" else 1e-11, atol=np.finfo(dtype).tiny)


def test_spelling_table_covers_every_rule_and_spelling():
    """Each stabilize rule has a row, and each spelling a row leaves out has its reason."""
    assert sorted(row.rule for row in ROWS) == sorted({rule.name for rule in STABILIZE})
    for row in ROWS:
        assert set(row.not_applicable) <= set(NAMES), row.rule
        assert all(isinstance(why, str) and why for why in row.not_applicable.values())
        assert set(row.fired_by) <= set(NAMES) - set(row.not_applicable), row.rule
        assert "base" not in row.not_applicable and "base" not in row.fired_by


def formula_of(row: Row, spelling: Spelling, dtype: str):
    x = S.tensor("x", dtype, (None,) * len(spelling.shape))
    return x, row.formula(x, spelling)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("row,spelling", CASES, ids=CASE_IDS)
def test_spelling_fires_and_is_finite_and_right(row, spelling, device, dtype):
    x, expr = formula_of(row, spelling, dtype)
    f = S.compile([x], expr, device=device)
    value = spelling.value(row.hard, dtype)
    out = f(value)
    assert row.fires(spelling) in dict(f.rewrites), f.rewrites
    assert out.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(out)), out
    expected = row.reference(value.astype(np.float64), spelling)
    np.testing.assert_allclose(out, expected, **tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("row,spelling", CASES, ids=CASE_IDS)
def test_spelling_gradient_is_finite_at_the_edge(row, spelling, dtype):
    """S.grad differentiates the stable form, so the gradient is finite where the naive
    formula's is not."""
    x, expr = formula_of(row, spelling, dtype)
    g = S.compile([x], S.grad(expr.sum(), x), device="numpy")(spelling.value(row.hard, dtype))
    assert g.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(g)), g


@pytest.mark.parametrize("row,spelling", REDUCING, ids=[f"{r.rule}-{s.name}" for r, s in REDUCING])
def test_spelling_gradient_matches_finite_differences(row, spelling, rng):
    """At ordinary inputs, in float64 and with static shapes (so a mean divides by a constant)."""
    point = rng.uniform(-3.0, 3.0, spelling.shape) + spelling.shift
    S.verify_grad(lambda x: row.formula(x, spelling), [point])


if __name__ == "__main__":
    print(render_spelling_table())
