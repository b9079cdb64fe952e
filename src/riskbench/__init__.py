"""riskbench: risk-aware benchmarking of large language models.

Compare models by their whole distribution of per-item scores: first- and second-order
stochastic dominance with bootstrap significance (Nitsure et al., ICML 2024), rankings with tie
groups, and mean-risk scores.

>>> import riskbench
>>> table = riskbench.load_demo()
>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:       # as the CLI, keep the warnings
...     warnings.simplefilter("always")
...     ranking = riskbench.rank(table, metric="win", seed=0)   # R-SSD, paired bootstrap
>>> sorted({type(w.message).__name__ for w in caught})      # claims near alpha (see README)
['CalibrationWarning']
>>> ranking.top_set                                          # as in the README's demo
('FuseChat-Gemma-2-9B-Instruct', 'FuseChat-Llama-3.1-8B-Instruct', 'FuseChat-Qwen-2.5-7B-Instruct')
>>> list(ranking.to_frame().columns)  # doctest: +NORMALIZE_WHITESPACE
['model', 'rank', 'rank_low', 'rank_high', 'letters', 'eps', 'eps_sd', 'wins', 'beaten_by',
 'top', 'mean', 'tvar_0.05']

The violation ratio of two samples is exact (integrals on the breakpoints): here the quantile
curves cross once, the gaps are +0.2, 0 and -0.3 on thirds, so eps_1 = 0.04 / 0.13 = 4/13.

>>> from fractions import Fraction
>>> eps = riskbench.violation_ratio([0.1, 0.5, 0.9], [0.3, 0.5, 0.6], order=1)
>>> Fraction(eps).limit_denominator(1000), abs(eps - 4 / 13) < 1e-15
(Fraction(4, 13), True)
>>> riskbench.violation_ratio([0.2, 0.9, 0.4], [0.1, 0.3, 0.7], order=2)   # X dominates Y
0.0
"""

# Every public name is imported on first use (PEP 562): ``import riskbench`` itself loads
# nothing heavy (numpy, scipy, pandas, numba come with the function that needs them), so the
# command line and scripts start at once.

import sys as _sys
from importlib import import_module as _import_module
from types import ModuleType as _ModuleType

#: Public name -> the module that defines it.
_LAZY = {
    "Agreement": "riskbench.agreement",
    "Bootstrap": "riskbench.inference",
    "CalibrationWarning": "riskbench.errors",
    "BordaRanking": "riskbench.ranking",
    "ConfidenceInterval": "riskbench.inference",
    "DataWarning": "riskbench.errors",
    "DegenerateDataWarning": "riskbench.errors",
    "Guardrail": "riskbench.selection",
    "InputError": "riskbench.errors",
    "LimitError": "riskbench.errors",
    "Limits": "riskbench._limits",
    "OutputError": "riskbench.errors",
    "input_limits": "riskbench._limits",
    "MeanRisk": "riskbench.risk",
    "MetricCube": "riskbench.portfolio",
    "MetricSpec": "riskbench.spec",
    "MissingExtraError": "riskbench.errors",
    "MultivariatePortfolio": "riskbench.multivariate",
    "PairwiseTest": "riskbench.inference",
    "Portfolio": "riskbench.portfolio",
    "PowerAnalysis": "riskbench.power",
    "RISK_MEASURES": "riskbench.risk",
    "Ranking": "riskbench.ranking",
    "RiskbenchError": "riskbench.errors",
    "RiskbenchWarning": "riskbench.errors",
    "Samples": "riskbench._samples",
    "ScoreTable": "riskbench.table",
    "Selection": "riskbench.selection",
    "Stability": "riskbench.agreement",
    "WinRates": "riskbench.agreement",
    "absolute_test": "riskbench.inference",
    "adjust_pvalues": "riskbench.inference",
    "bootstrap": "riskbench.inference",
    "borda": "riskbench.ranking",
    "compact_letters": "riskbench.ranking",
    "build_multivariate": "riskbench.multivariate",
    "build_portfolio": "riskbench.portfolio",
    "compare_rankings": "riskbench.agreement",
    "demo_path": "riskbench.demo",
    "entropic_ot": "riskbench.multivariate",
    "kendall_tau": "riskbench.agreement",
    "load_demo": "riskbench.demo",
    "mean_risk": "riskbench.risk",
    "mean_win_rate": "riskbench.agreement",
    "multivariate_bootstrap": "riskbench.multivariate",
    "one_vs_all": "riskbench.dominance",
    "ot_violation_ratio": "riskbench.multivariate",
    "parse_guardrail": "riskbench.selection",
    "power": "riskbench.power",
    "rank": "riskbench.ranking",
    "rank_intervals": "riskbench.ranking",
    "read_metric_spec": "riskbench.spec",
    "read_scores": "riskbench.table",
    "relative_test": "riskbench.inference",
    "score_test": "riskbench.inference",
    "select": "riskbench.selection",
    "stability": "riskbench.agreement",
    "tie_groups": "riskbench.ranking",
    "violation_matrix": "riskbench.dominance",
    "violation_ratio": "riskbench.dominance",
}

__all__ = [
    "Agreement",
    "BordaRanking",
    "Guardrail",
    "MetricCube",
    "MetricSpec",
    "MultivariatePortfolio",
    "Portfolio",
    "PowerAnalysis",
    "Selection",
    "Stability",
    "WinRates",
    "borda",
    "compare_rankings",
    "kendall_tau",
    "mean_win_rate",
    "parse_guardrail",
    "power",
    "build_multivariate",
    "build_portfolio",
    "entropic_ot",
    "multivariate_bootstrap",
    "ot_violation_ratio",
    "read_metric_spec",
    "select",
    "stability",
    "Bootstrap",
    "ConfidenceInterval",
    "DataWarning",
    "DegenerateDataWarning",
    "InputError",
    "LimitError",
    "Limits",
    "OutputError",
    "input_limits",
    "MeanRisk",
    "MissingExtraError",
    "PairwiseTest",
    "RISK_MEASURES",
    "Ranking",
    "RiskbenchError",
    "RiskbenchWarning",
    "CalibrationWarning",
    "Samples",
    "ScoreTable",
    "__version__",
    "absolute_test",
    "adjust_pvalues",
    "bootstrap",
    "demo_path",
    "load_demo",
    "mean_risk",
    "one_vs_all",
    "rank",
    "read_scores",
    "relative_test",
    "score_test",
    "tie_groups",
    "compact_letters",
    "rank_intervals",
    "violation_matrix",
    "violation_ratio",
]


def __getattr__(name: str):
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("riskbench")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0+unknown"
    elif name in _LAZY:
        value = getattr(_import_module(_LAZY[name]), name)
    else:  # a submodule, e.g. riskbench.dominance, as when everything was imported eagerly
        try:
            value = _import_module(f"riskbench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"riskbench.{name}":
                raise
            raise AttributeError(f"module 'riskbench' has no attribute {name!r}") from None
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


#: Public functions named like a submodule: the function is ``riskbench.<name>``, as when
#: everything was imported eagerly (``from riskbench.power import power`` replaced the module).
_SHADOWED = frozenset({"power"})


class _Package(_ModuleType):
    def __setattr__(self, name: str, value: object) -> None:
        # importing a submodule sets it as an attribute of the package; never over a function
        if name in _SHADOWED and isinstance(value, _ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
