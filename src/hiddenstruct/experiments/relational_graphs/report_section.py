"""The report section of relational-graphs (graph2nn's study, docs/relational-graphs.md)."""

from __future__ import annotations

from hiddenstruct.experiments.relational_graphs.summary import summarize
from hiddenstruct.experiments.report_sections import SectionSpec

SECTION = SectionSpec(
    "relational-graphs", "Relational graphs (graph2nn's study)",
    ("heatmap_CL_*", "error_vs_C_*", "error_vs_L_*", "coverage_*"),
    ("graphs.csv", "correlations.csv", "r2.csv"),
    summarize,
)  # fmt: skip
