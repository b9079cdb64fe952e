"""Risk-aware model selection under guardrails (METHOD.md section 11).

The selected model is the top of the R-SSD ranking of the portfolio (or of the one metric)
among the models that pass every guardrail. A guardrail is a hard constraint written as text:

    guardrail := TARGET ":" CHECK
    TARGET    := a metric of the table, or "portfolio"
    CHECK     := MEASURE ["@" LEVEL] OP NUMBER
               | "dominates(" MODEL {"," KEY "=" VALUE} ")"
    MEASURE   := mean | tvar | tail_gini | gini | abs_semidev | std_semidev | quantile
    LEVEL     := number in (0, 1] (tvar, tail_gini and quantile only; default 0.05)
    OP        := >= | <= | > |  <
    KEY       := order (1 or 2, default 2) | eps0 (in (0, 0.5], default 0.25)
               | alpha (in (0, 0.5), default 0.05)
    MODEL     := a model name, in quotes ('...' or "...") if it holds "," or ")"

Measures are read on the oriented scale, where higher is better for every metric: a
lower-is-better metric such as toxicity is negated, so "toxicity:tvar@0.05>=-0.2" means "the
mean toxicity of the worst 5% of items is at most 0.2". ``quantile@p`` is the lower p-quantile.
Measure guardrails compare point estimates. ``dominates(REF)`` requires the model to
eps-dominate model REF (absolute test of METHOD.md section 4 at that order and eps0, one-sided:
only "model beats REF" is tested, Bonferroni over the candidate models, gated by the equality
test like every dominance claim); REF itself fails it. Each check says which test decided.

When no test separates any two eligible models, nothing is chosen: ``chosen`` is None and
``no_decision`` is True ("no decision: the data do not separate these models").
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from riskbench._samples import Samples, as_samples
from riskbench.errors import InputError
from riskbench.inference import Progress, absolute_test_from, bootstrap
from riskbench.multivariate import MULTIVARIATE
from riskbench.portfolio import PORTFOLIOS
from riskbench.portfolio import build_portfolio as make_portfolio
from riskbench.ranking import (
    NO_DECISION,
    Ranking,
    _check_order,
    _multivariate_target,
    rank_samples,
)
from riskbench.risk import RISK_MEASURES, mean_risk_scores

__all__ = ["Guardrail", "GuardrailCheck", "Selection", "parse_guardrail", "select", "MEASURES"]

MEASURES = RISK_MEASURES + ("quantile",)
LEVELLED = ("tvar", "tail_gini", "quantile")
OPS = (">=", "<=", ">", "<")
EXAMPLE = "e.g. 'toxicity:tvar@0.05>=-0.2' or 'win:dominates(ref_model,order=2)'"
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class Guardrail:
    """One parsed guardrail (see the module docstring for the grammar)."""

    text: str
    target: str
    measure: str  # a MEASURES name, or "dominates"
    level: float | None = None
    op: str | None = None
    threshold: float | None = None
    reference: str | None = None
    order: int = 2
    eps0: float = 0.25
    alpha: float = 0.05

    def describe(self, candidates: int | None = None) -> str:
        """What the guardrail tests; ``candidates``: the models tested against the reference
        of a ``dominates`` guardrail (Bonferroni over them, so each is tested at alpha / it)."""
        if self.measure == "dominates":
            kind = "FSD" if self.order == 1 else "SSD"
            over = (f", Bonferroni over the {candidates} candidate models: each tested at "
                    f"alpha / {candidates} = {self.alpha / candidates:.3g}"
                    if candidates is not None and candidates > 1 else "")
            return (f"{self.target}: eps-{kind} dominance over {self.reference!r} "
                    f"(eps0 = {self.eps0:g}, alpha = {self.alpha:g}{over})")
        level = f"@{self.level:g}" if self.level is not None else ""
        return f"{self.target}: {self.measure}{level} {self.op} {self.threshold:g}"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, problem: str, hint: str = EXAMPLE) -> InputError:
        return InputError(f"guardrail {self.text!r}: {problem} at character {self.pos + 1}; "
                          f"{hint}")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def take(self, pattern: re.Pattern) -> str | None:
        self.skip()
        match = pattern.match(self.text, self.pos)
        if not match:
            return None
        self.pos = match.end()
        return match.group(0)

    def literal(self, token: str) -> bool:
        self.skip()
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def number(self, what: str) -> float:
        start = self.pos
        value = self.take(_NUMBER)
        if value is None:
            self.pos = start
            self.skip()
            raise self.fail(f"expected a number for {what}")
        return float(value)

    def model(self) -> str:
        self.skip()
        if self.pos < len(self.text) and self.text[self.pos] in "'\"":
            quote = self.text[self.pos]
            end = self.text.find(quote, self.pos + 1)
            if end < 0:
                raise self.fail(f"unclosed quote {quote}")
            name = self.text[self.pos + 1:end]
            self.pos = end + 1
        else:
            end = self.pos
            while end < len(self.text) and self.text[end] not in ",)":
                end += 1
            name = self.text[self.pos:end].strip()
            if not name:
                raise self.fail("expected a model name in dominates(...)")
            self.pos = end
        return name


def parse_guardrail(text: str) -> Guardrail:
    """Parse one guardrail; errors say what is wrong, at which character, with an example."""
    if not isinstance(text, str):
        raise InputError(f"a guardrail must be a string; got {type(text).__name__}")
    parser = _Parser(text)
    colon = text.find(":")
    if colon < 0:
        parser.pos = len(text)
        raise parser.fail("expected TARGET:CHECK (a metric or 'portfolio', a colon, a check)")
    target = text[:colon].strip()
    if not target:
        raise parser.fail("missing the metric before ':'")
    parser.pos = colon + 1
    measure = parser.take(_NAME)
    if measure is None:
        raise parser.fail("expected a measure or dominates(MODEL) after ':'")
    if measure == "dominates":
        return _parse_dominates(parser, target)
    if measure not in MEASURES:
        parser.pos -= len(measure)
        raise parser.fail(f"unknown measure {measure!r}",
                          f"use one of {', '.join(MEASURES)}, or dominates(MODEL)")
    level = None
    if parser.literal("@"):
        if measure not in LEVELLED:
            parser.pos -= 1
            raise parser.fail(f"{measure!r} takes no @level",
                              f"only {', '.join(LEVELLED)} do, e.g. 'toxicity:tvar@0.05>=-0.2'")
        level = parser.number("the level")
        if not 0 < level <= 1:
            raise parser.fail(f"level {level:g} is not in (0, 1]")
    elif measure in LEVELLED:
        level = 0.05
    parser.skip()
    op = next((o for o in OPS if text.startswith(o, parser.pos)), None)
    if op is None:
        raise parser.fail("expected a comparison (>=, <=, >, <)")
    parser.pos += len(op)
    threshold = parser.number(f"the bound after {op!r}")
    parser.skip()
    if parser.pos != len(text):
        raise parser.fail("unexpected text after the bound")
    return Guardrail(text, target, measure, level, op, threshold)


def _parse_dominates(parser: _Parser, target: str) -> Guardrail:
    if not parser.literal("("):
        raise parser.fail("expected '(' after dominates")
    reference = parser.model()
    options: dict[str, float] = {}
    while parser.literal(","):
        key = parser.take(_NAME)
        if key not in ("order", "eps0", "alpha"):
            if key is not None:
                parser.pos -= len(key)
            raise parser.fail(f"unknown option {key!r} in dominates(...)" if key else
                              "expected an option name", "options are order, eps0 and alpha")
        if key in options:
            raise parser.fail(f"option {key!r} given twice")
        if not parser.literal("="):
            raise parser.fail(f"expected '=' after {key!r}")
        options[key] = parser.number(key)
    if not parser.literal(")"):
        raise parser.fail("expected ',' or ')' in dominates(...)")
    parser.skip()
    if parser.pos != len(parser.text):
        raise parser.fail("unexpected text after dominates(...)")
    order = options.get("order", 2)
    if order not in (1, 2):
        raise InputError(f"guardrail {parser.text!r}: order must be 1 or 2; got {order:g}")
    eps0 = options.get("eps0", 0.25)
    if not 0 < eps0 <= 0.5:
        raise InputError(f"guardrail {parser.text!r}: eps0 must be in (0, 0.5]; got {eps0:g}")
    alpha = options.get("alpha", 0.05)
    if not 0 < alpha < 0.5:
        raise InputError(f"guardrail {parser.text!r}: alpha must be in (0, 0.5); got {alpha:g}")
    return Guardrail(parser.text, target, "dominates", reference=reference, order=int(order),
                     eps0=eps0, alpha=alpha)


@dataclass(frozen=True)
class GuardrailCheck:
    """The outcome of one guardrail for one model (``measured`` on the oriented scale).

    For ``dominates(REF)``: ``measured`` is eps(model, REF), ``upper_bound`` its upper
    confidence bound, and ``decided_by`` the test whose p-value decided ("dominance",
    "equality" or "both"; see :meth:`riskbench.PairwiseTest.explain`, quoted in ``detail``).
    """

    model: str
    guardrail: str
    measured: float
    passed: bool
    detail: str
    decided_by: str = ""
    upper_bound: float | None = None


@dataclass(frozen=True, eq=False)
class Selection:
    """The chosen model, the eligible models ranked, and why each other model was excluded.

    ``chosen`` is the top of the ranking of the eligible models; None when no model passes
    every guardrail, or when no test separates any two eligible models (``no_decision``).
    ``top_set``: the eligible models that can be first (a confidence set, see
    :attr:`riskbench.Ranking.top_set`).
    """

    chosen: str | None
    ranking: Ranking | None = field(repr=False)
    models: tuple[str, ...]
    guardrails: tuple[Guardrail, ...]
    checks: tuple[GuardrailCheck, ...] = field(repr=False)
    seed: int = 0
    target: str = ""

    @property
    def no_decision(self) -> bool:
        """Several models are eligible, but no test separates any two of them."""
        return self.ranking is not None and self.ranking.no_decision

    @property
    def decision(self) -> str:
        """What was decided, in words."""
        if self.no_decision:
            return NO_DECISION
        if self.chosen is None:
            return "no model passes every guardrail"
        top = self.top_set or ()
        if len(top) > 1:  # the tests single out no model: say how this one was picked
            return (f"chosen: {self.chosen}, first in the ranking's order of a top set of "
                    f"{len(top)} models that no test separates")
        return f"chosen: {self.chosen}"

    @property
    def chosen_is_unique(self) -> bool:
        """Whether the tests single out the chosen model: it is the whole top set (the models
        that can be first). False when it was picked from a larger top set by the ranking's
        order (point estimates), or when nothing was chosen."""
        return self.chosen is not None and tuple(self.top_set or ()) == (self.chosen,)

    @property
    def top_set(self) -> tuple[str, ...] | None:
        if self.ranking is None:
            return (self.chosen,) if self.chosen is not None else ()
        return self.ranking.top_set

    @property
    def eligible(self) -> tuple[str, ...]:
        failed = {c.model for c in self.checks if not c.passed}
        return tuple(m for m in self.models if m not in failed)

    @property
    def excluded(self) -> dict[str, tuple[GuardrailCheck, ...]]:
        """Each excluded model with the guardrails it failed (and the measured values)."""
        out: dict[str, list[GuardrailCheck]] = {}
        for c in self.checks:
            if not c.passed:
                out.setdefault(c.model, []).append(c)
        return {m: tuple(v) for m, v in out.items()}

    def _repr_html_(self) -> str:
        from riskbench.report.html import notebook_html, ranking_table_html, selection_html

        ranked = "" if self.ranking is None else ranking_table_html(self.ranking)
        return notebook_html(self.decision, ranked + selection_html(self))

    def to_frame(self):
        """One row per model: eligible or not, its rank among the eligible, failed guardrails."""
        import pandas as pd

        if self.ranking is not None:
            position = {m: a + 1 for a, m in enumerate(self.ranking.models)}
        else:
            position = {m: 1 for m in self.eligible}
        excluded = self.excluded
        rows = []
        for m in self.models:
            failed = excluded.get(m, ())
            rows.append({
                "model": m,
                "chosen": m == self.chosen,
                "eligible": not failed,
                "rank": position.get(m),
                "failed": "; ".join(c.guardrail for c in failed),
                "measured": "; ".join(f"{c.measured:.4g}" for c in failed),
            })
        frame = pd.DataFrame(rows).astype({"rank": "Int64"})
        return frame.sort_values(["eligible", "rank", "model"], ascending=[False, True, True],
                                 ignore_index=True)

    def to_dict(self) -> dict:
        """JSON-ready (strict: no NaN or Infinity)."""
        top = self.top_set
        return {
            "chosen": self.chosen,
            "chosen_is_unique": self.chosen_is_unique,
            "decision": self.decision,
            "no_decision": self.no_decision,
            "top_set": None if top is None else list(top),
            "target": self.target,
            "guardrails": [{"text": g.text, "meaning": g.describe(len(self.models) - 1)}
                           for g in self.guardrails],
            "eligible": None if self.ranking is None else self.ranking.to_dict(),
            "eligible_models": list(self.eligible),
            "excluded": [{"model": m, "failed": [
                {"guardrail": c.guardrail, "measured": _finite(c.measured), "detail": c.detail,
                 "decided_by": c.decided_by or None, "upper_bound": _finite(c.upper_bound)}
                for c in checks]} for m, checks in self.excluded.items()],
            "checks": [{"model": c.model, "guardrail": c.guardrail, "passed": c.passed,
                        "measured": _finite(c.measured), "decided_by": c.decided_by or None,
                        "upper_bound": _finite(c.upper_bound), "detail": c.detail}
                       for c in self.checks],
            "seed": self.seed,
        }


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _holds(value: float, op: str, bound: float) -> bool:
    return {">=": value >= bound, "<=": value <= bound, ">": value > bound,
            "<": value < bound}[op]


def _measure(values: np.ndarray, guard: Guardrail) -> float:
    xs = np.sort(values)
    if guard.measure == "quantile":
        return float(xs[max(0, int(np.ceil(guard.level * xs.size)) - 1)])
    level = guard.level or 0.05
    return float(mean_risk_scores(xs, p=level, beta=level)[guard.measure])


def _subset(samples: Samples, keep: Sequence[int]) -> Samples:
    return Samples(tuple(samples.models[a] for a in keep),
                   tuple(samples.values[a] for a in keep), samples.aligned, samples.metric,
                   samples.higher_is_better, samples.items)


def select(
    table: object,
    *,
    guardrails: Sequence[str] = (),
    metric: str | None = None,
    portfolio: str = "ic",
    weights: Mapping[str, float] | None = None,
    order: int | None = None,
    alpha: float = 0.05,
    correction: str = "bonferroni",
    design: str = "paired",
    n_resamples: int = 1000,
    seed: int | None = None,
    backend: str = "auto",
    progress: Progress | None = None,
) -> Selection:
    """Choose a model for risk-averse use: the top of the R-SSD ranking among the models that
    pass every guardrail.

    Parameters
    ----------
    table : ScoreTable (or mapping / array with one metric)
    guardrails : sequence of str
        Hard constraints in the grammar of this module's docstring, e.g.
        ``"toxicity:tvar@0.05>=-0.2"`` or ``"win:dominates(ref_model,order=2)"``.
    metric : str, optional
        Rank on this metric instead of the portfolio.
    portfolio : {"ic", "ec", "multivariate"}
        Portfolio of all metrics when the table has several (default "ic"); "multivariate"
        ranks by multivariate first-order dominance (R-FSD of the joint metric distributions,
        METHOD.md section 13), which has no per-item score for a 'portfolio' guardrail.
    weights, order, alpha, correction, design, n_resamples, seed, backend
        As :func:`riskbench.rank` (the ranking among eligible models is relative, at ``order``:
        default 2, and 1 for the multivariate comparison).

    Returns
    -------
    Selection
        ``chosen`` is None when no model passes every guardrail.
    """
    if portfolio not in PORTFOLIOS + (MULTIVARIATE,):
        raise InputError(f"portfolio must be 'ic', 'ec' or 'multivariate' for selection; got "
                         f"{portfolio!r}")
    joint = portfolio == MULTIVARIATE
    order = _check_order(order, portfolio, "dominance")
    parsed = tuple(parse_guardrail(g) for g in guardrails)
    if seed is None:
        seed = secrets.randbits(63)
    metrics = getattr(table, "metrics", None)
    multi = metric is None and metrics is not None and len(metrics) > 1
    if joint:
        built = _multivariate_target(table, metric, weights)
    else:
        built = make_portfolio(table.cube(), kind=portfolio, weights=weights) if multi else None
    main = built.samples() if built is not None else as_samples(table, metric=metric)
    models = main.models
    known = tuple(metrics) if metrics is not None else ((main.metric,) if main.metric else ())
    cache: dict[str, Samples] = {}

    def target_samples(g: Guardrail) -> Samples:
        if g.target == "portfolio":
            if joint:
                raise InputError(f"guardrail {g.text!r}: the multivariate comparison has no "
                                 "per-item portfolio score to measure; put the guardrail on a "
                                 "metric, or use a scalar portfolio ('ic' or 'ec')")
            if built is None:
                raise InputError(f"guardrail {g.text!r}: the target 'portfolio' needs a table "
                                 "with several metrics")
            return main
        if g.target not in known:
            raise InputError(f"guardrail {g.text!r}: no metric {g.target!r} in the table "
                             f"(metrics: {', '.join(known) or 'none'}); use one of them or "
                             "'portfolio'")
        if g.target not in cache:
            cache[g.target] = as_samples(table, metric=g.target)
        return cache[g.target]

    checks = []
    for g in parsed:
        s = target_samples(g)
        if g.measure != "dominates":
            for a, m in enumerate(s.models):
                value = _measure(s.values[a], g)
                checks.append(GuardrailCheck(m, g.text, value, _holds(value, g.op, g.threshold),
                                             f"{g.describe()}: measured {value:.4g}"))
            continue
        if g.reference not in s.models:
            raise InputError(f"guardrail {g.text!r}: no model {g.reference!r} in the table")
        ref = s.models.index(g.reference)
        candidates = [a for a in range(s.k) if a != ref]
        corrected = g.alpha / max(1, len(candidates))
        one_way = np.array([[False, True], [False, False]])  # only "candidate beats REF"
        for a in candidates:
            boot = bootstrap(_subset(s, [a, ref]), order=g.order, design=design,
                             n_resamples=n_resamples, seed=seed, backend=backend)
            test = absolute_test_from(boot, eps0=g.eps0, alpha=min(corrected, 0.49),
                                      family=one_way)
            value, high = float(test.statistic[0, 1]), float(test.confidence_interval.high[0, 1])
            checks.append(GuardrailCheck(
                s.models[a], g.text, value, bool(test.reject[0, 1]),
                f"{g.describe(len(candidates))}: eps = {value:.4f}; {test.explain(0, 1)}",
                decided_by=str(test.decided_by[0, 1]), upper_bound=high))
        checks.append(GuardrailCheck(g.reference, g.text, float("nan"), False,
                                     f"{g.describe(len(candidates))}: the reference model itself"))

    failed = {c.model for c in checks if not c.passed}
    keep = [a for a, m in enumerate(models) if m not in failed]
    ranking = None
    chosen = None
    if len(keep) >= 2:
        ranking = rank_samples(_subset(main, keep), built, order=order, test="relative",
                                eps0=0.25, alpha=alpha, correction=correction, design=design,
                                n_resamples=n_resamples, seed=seed, criterion="dominance",
                                p=0.05, beta=0.05, batch=None, progress=progress,
                                backend=backend)
        chosen = None if ranking.no_decision else ranking.models[0]
    elif len(keep) == 1:
        chosen = models[keep[0]]
    return Selection(chosen, ranking, models, parsed, tuple(checks), int(seed),
                     main.metric or "")
