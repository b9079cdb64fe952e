"""Reports on riskbench results: paper-style plots and a self-contained HTML report.

Needs matplotlib (``pip install "riskbench[report]"``).

>>> import riskbench
>>> from riskbench.report import plots
>>> table = riskbench.load_demo().select(models=["claude-2", "claude", "claude-instant-1.2"])
>>> ranking = riskbench.rank(table, metric="win", n_resamples=100, seed=0)
>>> fig = plots.quantile_curves(ranking, highlight="claude-2")  # a Figure, no pyplot
>>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()][0]
'1. claude-2 (chosen)'
>>> path = plots.save(fig, "curves.svg")            # doctest: +SKIP
"""

from riskbench.report.html import pairs_table_html, ranking_table_html, render_report, write_report

__all__ = ["render_report", "write_report", "ranking_table_html", "pairs_table_html"]
