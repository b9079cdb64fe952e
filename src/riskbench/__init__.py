"""riskbench: risk-aware benchmarking of large language models.

Compare models by their whole distribution of per-item scores: first- and second-order
stochastic dominance with bootstrap significance (Nitsure et al., ICML 2024), rankings with tie
groups, and mean-risk scores.

>>> import riskbench
>>> table = riskbench.load_demo()
>>> ranking = riskbench.rank(table, metric="win", seed=0)   # R-SSD, paired bootstrap
>>> ranking.to_frame().head()                                # doctest: +SKIP
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
    CalibrationWarning,
    DataWarning,
    DegenerateDataWarning,
    InputError,
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
from riskbench.ranking import (
    BordaRanking,
    Ranking,
    borda,
    compact_letters,
    rank,
    rank_intervals,
    tie_groups,
)
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
