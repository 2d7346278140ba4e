"""The HTML report of a comparison: tables, plots and sample conversations in one self-contained file.

`write_report` writes `report.html` (no network: styles, script and PNG plots are inline) and the plots as PNG
files under `plots/`. `plots.py` draws with matplotlib (no pyplot state), `samples.py` picks the conversations
where the models differ, `html.py` assembles the page and `page.py` holds its style and script.
"""

from thinkact.eval.report.html import write_report

__all__ = ["write_report"]
