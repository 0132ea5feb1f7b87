"""The HTML report is one self-contained page: a chart per column, the statistic,
threshold and verdict, nothing loaded from anywhere, user text escaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
from mloop_runtime.drift_data import CurrentWindow
from mloop_runtime.drift_report import build_report
from mloop_runtime.report_html import render_report
from test_drift_edge_cases import column, profile

RNG = np.random.default_rng(3)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.fetching: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        self.fetching += [(k, v) for k, v in attrs if k in ("src", "href", "srcset", "xlink:href")]


HOSTILE = '<img src=x onerror="alert(1)">'


def render() -> str:
    p = profile(
        column("temperature", "number", RNG.normal(size=2000)),
        column(HOSTILE, "string", RNG.choice(["a", "b", HOSTILE], size=2000)),
        column("count", "integer", RNG.integers(0, 4, size=2000)),
        column("absent", "number", RNG.normal(size=2000)),
        column("no values", "number", [None] * 2000),
        outputs=(column("prediction", "number", RNG.normal(size=500)),),
    )
    current = {
        "temperature": pd.Series(RNG.normal(1, 1, size=1500)),
        HOSTILE: pd.Series(RNG.choice(["a", "c", HOSTILE], size=1500)),
        "count": pd.Series(RNG.integers(0, 4, size=1500)),
        "no values": pd.Series(RNG.normal(size=1500)),
        "pred": pd.Series(RNG.normal(size=1500)),
    }
    report = build_report(p, CurrentWindow(Path("/w.csv"), 1500, current), p.monitoring, {"prediction": "pred"})
    return render_report(report)


def test_one_chart_per_column_with_verdicts() -> None:
    page = render()
    charts = re.findall(r'<svg class="feature-chart" data-feature="([^"]*)"', page)
    assert len(charts) == 6  # five features and one output, even those without a verdict
    assert charts[0] == "temperature" and charts[-1] == "prediction"
    assert "Wasserstein distance (normed) = " in page and "(threshold 0.1)" in page
    assert page.count('class="badge drift"') >= 2
    assert "missing column" in page  # "absent": drawn from the reference alone


def test_the_page_loads_nothing_and_escapes_user_text() -> None:
    page = render()
    assert "http://" not in page and "https://" not in page and "<script" not in page.lower()
    assert "default-src 'none'" in page
    assert HOSTILE not in page  # only its escaped form
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    tags = Tags()
    tags.feed(page)
    assert {"script", "img", "link", "iframe", "object"}.isdisjoint(tags.names)
    assert not tags.fetching  # no element has a src or href to load
