"""Reports on riskbench results: paper-style plots and a self-contained HTML report.

Needs matplotlib (``pip install "riskbench[report]"``).
"""

from riskbench.report.html import pairs_table_html, ranking_table_html, render_report, write_report

__all__ = ["render_report", "write_report", "ranking_table_html", "pairs_table_html"]
