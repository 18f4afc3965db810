"""Memory of chart drawing: does the process grow as it draws chart after chart?

Run from the repository root:

    .venv/bin/python bench/charts.py [--charts 300] [--runs 3]   # ~10 minutes

Each run, in a fresh subprocess: draw ``--charts`` usage charts of 90 days and three
metrics (Steward's ``render_png``, what the web process does for each ``/health``),
warm-up first (fonts and caches), and report the resident memory after the warm-up
and at the end, and the growth per 1,000 charts. Beside it, the baseline in the same
run: the same count of bare matplotlib figures (``Figure`` + Agg ``savefig`` of one
line), which is what drawing costs without anything Steward adds. Median of the runs,
with the range. Steady memory means a growth near 0 MB per 1,000 charts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 100

CHILD = r"""
import io, json, sys
from datetime import date, timedelta
sys.path.insert(0, sys.argv[1])
kind, count, warm = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def rss_mb():
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6

if kind == "steward":
    from bot.adapters.charts import render_png
    from core.messages import Chart, Series
    days = tuple(date(2026, 9, 1) + timedelta(days=i) for i in range(90))
    def draw(n):
        series = tuple(
            Series(m, tuple(100.0 + (i * (k + 1) + n) % 37 for i in range(90)), panel=k)
            for k, m in enumerate(("tokens", "api_calls", "seats"))
        )
        return render_png(Chart(title=f"Usage {n}", alt_text="usage", days=days, series=series))
else:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    def draw(n):
        figure = Figure(figsize=(8, 3.2), dpi=100)
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        ax.plot(range(90), [100.0 + (i + n) % 37 for i in range(90)])
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()

for n in range(warm):
    draw(n)
start = rss_mb()
for n in range(count):
    draw(n)
end = rss_mb()
print(json.dumps({"start": start, "end": end, "per_1000": (end - start) / count * 1000}))
"""


def run(kind: str, charts: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), kind, str(charts), str(WARM_UP)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--charts", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.charts} charts per run after {WARM_UP} to warm up; {args.runs} runs")
    print("| drawer | RSS after warm-up (MB) | RSS at end (MB) | growth per 1,000 charts (MB) |")
    print("| --- | --- | --- | --- |")
    for kind in ("steward", "bare matplotlib"):
        runs = [
            run("steward" if kind == "steward" else "bare", args.charts) for _ in range(args.runs)
        ]
        cells = []
        for key in ("start", "end", "per_1000"):
            values = [r[key] for r in runs]
            cells.append(f"{statistics.median(values):.1f} ({min(values):.1f}..{max(values):.1f})")
        print(f"| {kind} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
