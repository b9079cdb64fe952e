"""riskbench: risk-aware benchmarking of large language models.

Compare models by their whole distribution of per-item scores: first- and second-order
stochastic dominance with bootstrap significance (Nitsure et al., ICML 2024), rankings with tie
groups, and mean-risk scores.

>>> import riskbench
>>> table = riskbench.load_demo()
>>> ranking = riskbench.rank(table, metric="win", seed=0)   # R-SSD, paired bootstrap
>>> ranking.best_set                                         # as in the README's demo
('FuseChat-Gemma-2-9B-Instruct', 'FuseChat-Qwen-2.5-7B-Instruct')
>>> list(ranking.to_frame().columns)
['model', 'rank', 'group', 'eps', 'eps_sd', 'wins', 'best', 'mean', 'tvar_0.05']

The violation ratio of two samples is exact (integrals on the breakpoints): here the quantile
curves cross once, the gaps are +0.2, 0 and -0.3 on thirds, so eps_1 = 0.04 / 0.13 = 4/13.

>>> riskbench.violation_ratio([0.1, 0.5, 0.9], [0.3, 0.5, 0.6], order=1)
0.3076923076923077
>>> riskbench.violation_ratio([0.2, 0.9, 0.4], [0.1, 0.3, 0.7], order=2)   # X dominates Y
0.0
"""

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from riskbench._samples import Samples
from riskbench.agreement import (
    Agreement,
    Stability,
    WinRates,
    compare_rankings,
    kendall_tau,
    mean_win_rate,
    stability,
)
from riskbench.demo import demo_path, load_demo
from riskbench.dominance import one_vs_all, violation_matrix, violation_ratio
from riskbench.errors import (
    DataWarning,
    DegenerateDataWarning,
    InputError,
    MissingExtraError,
    RiskbenchError,
    RiskbenchWarning,
)
from riskbench.inference import (
    Bootstrap,
    ConfidenceInterval,
    PairwiseTest,
    absolute_test,
    adjust_pvalues,
    bootstrap,
    relative_test,
    score_test,
)
from riskbench.multivariate import (
    MultivariatePortfolio,
    build_multivariate,
    entropic_ot,
    multivariate_bootstrap,
    ot_violation_ratio,
)
from riskbench.portfolio import MetricCube, Portfolio, build_portfolio
from riskbench.power import PowerAnalysis, power
from riskbench.ranking import BordaRanking, Ranking, borda, rank, tie_groups
from riskbench.risk import RISK_MEASURES, MeanRisk, mean_risk
from riskbench.selection import Guardrail, Selection, parse_guardrail, select
from riskbench.spec import MetricSpec, read_metric_spec
from riskbench.table import ScoreTable, read_scores

try:
    __version__ = _version("riskbench")
except _PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

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
    "MeanRisk",
    "MissingExtraError",
    "PairwiseTest",
    "RISK_MEASURES",
    "Ranking",
    "RiskbenchError",
    "RiskbenchWarning",
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
    "violation_matrix",
    "violation_ratio",
]
