"""Power planning: how many items does a dominance test need to separate two models?

:func:`power` estimates, by simulation with the same bootstrap tests that riskbench runs on real
data, the probability that the test declares "model a beats model b" at each candidate number of
items n, and the smallest n that reaches a target power. The truth it simulates from is either
pilot scores (their empirical distributions, resampled at size n) or an effect size (two normal
models a shift of ``effect`` standard deviations apart).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np

from riskbench._samples import Samples, as_samples
from riskbench.calibration import Scenario, normal, serial_kernels, simulate, simulate_bootstrap
from riskbench.dominance import check_order, one_vs_all, violation_matrix
from riskbench.errors import (
    CalibrationWarning,
    DegenerateDataWarning,
    InputError,
    option_hint,
)
from riskbench.inference import (
    DESIGNS,
    _check_alpha,
    _check_choice,
    _check_design,
    _check_eps0,
    _check_resamples,
    _check_seed,
    absolute_test_from,
    relative_test_from,
)

__all__ = ["PowerAnalysis", "power", "DEFAULT_SIZES"]

#: Candidate numbers of items per model when ``sizes`` is not given.
DEFAULT_SIZES = (50, 100, 200, 500, 1000, 2000, 5000)
TESTS = ("relative", "absolute")
#: Below this much work per dataset (models x items) the compiled kernels run on one thread:
#: waking the thread pool for every small dataset costs more than it saves.
_SERIAL_WORK = 5000

Progress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class PowerAnalysis:
    """Simulated power of a dominance test at several numbers of items.

    Attributes
    ----------
    sizes : tuple of int
        Candidate numbers of items per model, ascending.
    power : (len(sizes),) array
        Share of simulated datasets in which the test declared ``pair[0]`` better than
        ``pair[1]`` (with the test's default Bonferroni correction over all pairs of models).
    se : (len(sizes),) array
        Binomial Monte Carlo standard error sqrt(power (1 - power) / n_datasets).
    required_n : int or None
        Smallest candidate size whose estimated power reaches ``target``; None if none does.
    statistic : float
        The truth simulated from: Delta = eps_a - eps_b (relative test) or E[a, b] (absolute
        test) of the pilot's empirical distributions, or of the two normal models.
    h1 : bool
        Whether that truth lies in the alternative (Delta < 0, resp. E < eps0). When it does
        not, ``power`` estimates a type-I error and no size can reach the target.
    """

    sizes: tuple[int, ...]
    power: np.ndarray = field(repr=False)
    se: np.ndarray = field(repr=False)
    required_n: int | None
    target: float
    test: str
    order: int
    alpha: float
    eps0: float | None
    design: str
    pair: tuple[str, str]
    models: tuple[str, ...]
    statistic: float
    h1: bool
    source: str
    n_datasets: int
    n_resamples: int
    seed: int

    def to_frame(self):
        """One row per candidate size: n, power, se and whether it reaches the target."""
        import pandas as pd

        return pd.DataFrame({"n": list(self.sizes), "power": self.power, "se": self.se,
                             "reaches_target": self.power >= self.target})


def _check_sizes(sizes: object) -> tuple[int, ...]:
    if sizes is None:
        return DEFAULT_SIZES
    try:
        values = list(sizes)  # type: ignore[call-overload]
    except TypeError:
        values = None
    if values is None or not values or any(
            isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 2 for s in values):
        raise InputError(f"sizes must be a non-empty list of integers >= 2 (items per model); "
                         f"got {sizes!r}")
    return tuple(sorted({int(s) for s in values}))


def _check_fraction(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise InputError(f"{name} must be a number in (0, 1); got {value!r}")
    return float(value)


def _check_datasets(n_datasets: object) -> int:
    if isinstance(n_datasets, bool) or not isinstance(n_datasets, int | np.integer) \
            or n_datasets < 10:
        raise InputError(f"{option_hint('n_datasets', '--n-datasets')} must be an integer >= 10;"
                         f" got {n_datasets!r}")
    return int(n_datasets)


def _pick_pair(samples: Samples, pair: object, eps: np.ndarray) -> tuple[int, int]:
    """Indices of the compared models; by default the pilot's best against its runner-up."""
    if pair is None:
        best, runner_up = np.argsort(eps, kind="stable")[:2]
        return int(best), int(runner_up)
    if not isinstance(pair, tuple | list) or len(pair) != 2 or pair[0] == pair[1] \
            or any(p not in samples.models for p in pair):
        raise InputError(f"pair must name two different models (better, worse) among "
                         f"{', '.join(samples.models)}; got {pair!r}")
    return samples.models.index(pair[0]), samples.models.index(pair[1])


def power(pilot: object = None, *, effect: float | None = None, order: int = 2,
          test: str = "relative", alpha: float = 0.05, target: float = 0.8,
          sizes: Sequence[int] | None = None, n_datasets: int = 200, n_resamples: int = 200,
          seed: int | None = 0, eps0: float = 0.25, design: str = "paired",
          pair: tuple[str, str] | None = None, metric: str | None = None,
          progress: Progress | None = None) -> PowerAnalysis:
    """Power of a dominance test at candidate numbers of items, by simulation.

    Parameters
    ----------
    pilot : ScoreTable, mapping {model: scores} or array (models x items), optional
        Pilot scores of two or more models. Datasets of n items are drawn from them with
        replacement (paired design: the same items for every model, so the pilot's dependence
        between models is kept). Give ``pilot`` or ``effect``.
    effect : float, optional
        Shift between two normal models in standard deviations: model "a" ~ N(effect, 1) and
        "b" ~ N(0, 1), items independent. Model a dominates b exactly at both orders.
    order : {1, 2}
    test : {"relative", "absolute"}
    alpha : float
        Family-wise level of the test (default Bonferroni correction over all pairs).
    target : float
        Power to reach, in (0, 1).
    sizes : sequence of int, optional
        Candidate numbers of items per model (default 50, 100, 200, 500, 1000, 2000, 5000).
    n_datasets : int
        Simulated datasets per size (>= 10); the Monte Carlo SE of a power near 0.8 is 0.028
        with 200.
    n_resamples : int
        Bootstrap replicates B per dataset. 200 keeps planning fast; the calibration suite
        (docs/calibration.md) checks the tests at this B.
    seed : int or None
        None draws a fresh seed (recorded in the result).
    eps0 : float
        Threshold of the absolute test.
    design : {"paired", "independent"}
    pair : (str, str), optional
        The two models (better, worse) whose separation is planned. Default: the pilot's model
        with the smallest one-versus-all ratio eps_i against the runner-up; ("a", "b") for an
        effect size.
    metric : str, optional
        Metric of a ScoreTable pilot.
    progress : callable(done, total), optional
        Called after each simulated dataset.

    Returns
    -------
    PowerAnalysis

    Warns
    -----
    DegenerateDataWarning
        When the truth simulated from lies in the null hypothesis (e.g. the pilot's E[a, b] is
        at least eps0), so no number of items reaches the target.

    Notes
    -----
    1. The truth: the pilot's empirical distributions (or the two normal laws); its statistic
       for the pair (Delta or E) is reported.
    2. For each size n: draw ``n_datasets`` datasets of n items per model (generator seeded by
       ``seed`` and n, so a size's estimate does not depend on the other sizes), bootstrap
       each (B = ``n_resamples``) and run the test with its default correction.
    3. power = share of datasets with "a beats b" rejected in a's favour, with its binomial
       standard error; required_n = the smallest size whose power reaches the target.
    """
    if (pilot is None) == (effect is None):
        raise InputError("power needs pilot scores (pilot=) or an effect size (effect=), "
                         "exactly one of them")
    order = check_order(order)
    if test not in TESTS:
        raise InputError(f"test must be one of 'relative', 'absolute'; got {test!r}")
    alpha = _check_alpha(alpha)
    target = _check_fraction(target, "target")
    sizes = _check_sizes(sizes)
    n_datasets = _check_datasets(n_datasets)
    n_resamples = _check_resamples(n_resamples)
    seed = _check_seed(seed)
    eps0 = _check_eps0(eps0)
    if effect is not None:
        if isinstance(effect, bool) or not isinstance(effect, int | float) \
                or not math.isfinite(effect) or effect <= 0:
            raise InputError(f"effect must be a positive number (the shift between two normal "
                             f"models, in standard deviations); got {effect!r}")
        samples = None
        models = ("a", "b")
        if pair is not None and (not isinstance(pair, tuple | list) or tuple(pair) != models):
            raise InputError(f"with an effect size the models are 'a' (shifted) and 'b'; pair "
                             f"must be ('a', 'b') or None; got {pair!r}")
        design = _check_choice(design, "design", DESIGNS)
        i, j = 0, 1
        e = np.array([[np.nan, 0.0], [1.0, np.nan]])  # N(effect, 1) dominates N(0, 1)
    else:
        samples = as_samples(pilot, metric=metric)
        design = _check_design(design, samples)
        short = [(m, s) for m, s in zip(samples.models, samples.sizes, strict=True) if s < 2]
        if short:
            raise InputError(f"each pilot model needs at least 2 scores to resample; "
                             f"{short[0][0]!r} has {short[0][1]}")
        models = samples.models
        with warnings.catch_warnings():  # identical pilots are reported through `statistic`
            warnings.simplefilter("ignore", DegenerateDataWarning)
            e = violation_matrix(samples.values, order=order)
        i, j = _pick_pair(samples, pair, one_vs_all(e))
    eps = one_vs_all(e)
    statistic = float(eps[i] - eps[j] if test == "relative" else e[i, j])
    h1 = statistic < (0.0 if test == "relative" else eps0)
    if not h1:
        h0 = "Delta >= 0" if test == "relative" else f"E >= eps0 = {eps0:g}"
        warnings.warn(
            f"the truth simulated from is in the null hypothesis for {models[i]!r} against "
            f"{models[j]!r} ({'Delta' if test == 'relative' else 'E'} = {statistic:.4g}, "
            f"{h0}): the estimated power is a type-I error and no size reaches the target",
            DegenerateDataWarning,
            stacklevel=2,
        )

    hits = np.zeros(len(sizes))
    total = len(sizes) * n_datasets
    for s, n in enumerate(sizes):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(n,)))
        datasets = (_resample(samples, n, n_datasets, design, rng) if samples is not None
                    else simulate(Scenario("effect", "power", (normal(effect, 1.0), normal()),
                                           (n, n), design, 0.0), n_datasets, rng))
        serial = len(models) * n < _SERIAL_WORK
        for d, values in enumerate(datasets):
            with serial_kernels() if serial else nullcontext():
                boot, = simulate_bootstrap(values, design=design, orders=(order,),
                                           n_resamples=n_resamples, rng=rng)
            with warnings.catch_warnings():
                # the simulated datasets are small on purpose; the caveat belongs to real runs
                warnings.simplefilter("ignore", CalibrationWarning)
                result = (relative_test_from(boot, alpha=alpha) if test == "relative"
                          else absolute_test_from(boot, eps0=eps0, alpha=alpha))
            hits[s] += bool(result.reject[i, j])
            if progress is not None:
                progress(s * n_datasets + d + 1, total)
    rate = hits / n_datasets
    se = np.sqrt(rate * (1.0 - rate) / n_datasets)
    reached = [n for n, p in zip(sizes, rate, strict=True) if p >= target]
    return PowerAnalysis(
        sizes=sizes, power=rate, se=se, required_n=reached[0] if reached else None,
        target=target, test=test, order=order, alpha=alpha,
        eps0=eps0 if test == "absolute" else None, design=design, pair=(models[i], models[j]),
        models=tuple(models), statistic=statistic, h1=bool(h1),
        source="pilot" if samples is not None else "effect", n_datasets=n_datasets,
        n_resamples=n_resamples, seed=seed,
    )


def _resample(samples: Samples, n: int, n_datasets: int, design: str,
              rng: np.random.Generator) -> list[list[np.ndarray]]:
    """Datasets of n items per model drawn with replacement from the pilot."""
    if design == "paired":
        matrix = samples.matrix()  # (k, n_pilot)
        rows = rng.integers(0, matrix.shape[1], size=(n_datasets, n))
        return [list(matrix[:, r]) for r in rows]
    draws = [v[rng.integers(0, v.size, size=(n_datasets, n))] for v in samples.values]
    return [[d[t] for d in draws] for t in range(n_datasets)]
