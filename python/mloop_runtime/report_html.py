"""The drift report as one self-contained HTML page: inline CSS and SVG, no script, and a
Content-Security-Policy that forbids loading anything, so it renders the same offline,
behind a firewall, or served by the API."""

from __future__ import annotations

from html import escape
from typing import Any

from .report_html_svg import CURRENT_COLOR, REFERENCE_COLOR, chart_svg

_CSS = f"""
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d2430; max-width: 1280px; }}
h1 {{ font-size: 22px; margin: 0 0 4px; }} h2 {{ font-size: 18px; margin: 28px 0 8px; }}
table {{ border-collapse: collapse; margin: 8px 0; }}
th, td {{ text-align: left; padding: 4px 10px; border-bottom: 1px solid #e3e6ea; vertical-align: top; }}
.badge {{ display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; }}
.drift, .critical {{ background: #fde2e1; color: #a4161a; }}
.no_drift {{ background: #dcf5e3; color: #1b6b35; }}
.warning {{ background: #fff1cc; color: #7a5600; }}
.other, .info {{ background: #e9ecef; color: #495057; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 16px; }}
.card {{ border: 1px solid #dde1e6; border-radius: 8px; padding: 12px; }}
.card h3 {{ font-size: 15px; margin: 0 0 6px; }}
.meta {{ color: #5c6470; font-size: 12px; }}
svg .axis {{ stroke: #8a939e; }} svg .tick, svg .legend {{ font-size: 11px; fill: #3b4450; }}
svg .note {{ font-size: 13px; fill: #8a939e; }}
.ref {{ color: {REFERENCE_COLOR}; }} .cur {{ color: {CURRENT_COLOR}; }}
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    if value != 0 and abs(value) < 1e-4:
        return f"{value:.3e}"
    return f"{value:.4g}"


def _badge(status: str) -> str:
    css = status if status in ("drift", "no_drift") else "other"
    return f'<span class="badge {css}">{_e(status.replace("_", " "))}</span>'


def _verdict_rows(entries: list[dict[str, Any]]) -> str:
    rows = []
    for e in entries:
        rows.append(
            "<tr>"
            f"<td>{_e(e['name'])}</td><td>{_e(e['type'])}</td><td>{_e(e.get('test_name') or '–')}</td>"
            f"<td>{_number(e.get('score'))}</td><td>{_number(e.get('threshold'))}</td>"
            f"<td>{_badge(e['status'])}</td><td>{_e(e.get('reason') or '')}</td>"
            "</tr>"
        )
    head = "<tr><th>column</th><th>type</th><th>test</th><th>score</th><th>threshold</th><th>verdict</th><th></th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _side(summary: dict[str, Any] | None) -> str:
    if summary is None:
        return "–"
    parts = [f"{summary.get('count', 0)} values", f"{summary.get('nulls', 0)} missing"]
    if summary.get("non_finite"):
        parts.append(f"{summary['non_finite']} non-finite")
    if summary.get("invalid"):
        parts.append(f"{summary['invalid']} invalid")
    if "mean" in summary and summary.get("mean") is not None:
        parts.append(f"mean {_number(summary['mean'])}, std {_number(summary.get('std'))}")
        parts.append(f"range [{_number(summary.get('min'))}, {_number(summary.get('max'))}]")
    elif "distinct" in summary:
        parts.append(f"{summary['distinct']} distinct")
    return _e(", ".join(parts))


def _card(entry: dict[str, Any]) -> str:
    verdict = (
        f"{_e(entry.get('test_name'))} = {_number(entry.get('score'))} (threshold {_number(entry.get('threshold'))})"
        if entry.get("test_name") and entry.get("score") is not None
        else _e(entry.get("reason") or "")
    )
    return (
        f'<div class="card" data-column="{_e(entry["name"])}">'
        f"<h3>{_e(entry['name'])} {_badge(entry['status'])}</h3>"
        f'<div class="meta">{verdict}</div>'
        f"{chart_svg(entry['name'], entry.get('chart'))}"
        f'<div class="meta"><span class="ref">reference</span>: {_side(entry.get("reference"))}</div>'
        f'<div class="meta"><span class="cur">current</span>: {_side(entry.get("current"))}</div>'
        "</div>"
    )


def _findings(findings: list[dict[str, Any]]) -> str:
    if not findings:
        return "<p>No findings.</p>"
    items = "".join(
        f'<li><span class="badge {_e(f["severity"])}">{_e(f["severity"])}</span> '
        f"<code>{_e(f['type'])}</code> {_e(f['message'])}</li>"
        for f in findings
    )
    return f"<ul>{items}</ul>"


def render_report(report: dict[str, Any]) -> str:
    verdict = report["dataset_drift"]
    share = "–" if verdict["share"] is None else f"{verdict['share']:.0%}"
    summary = (
        f"{verdict['drifted_features']} of {verdict['tested_features']} tested feature(s) drifted ({share}); "
        f"dataset drift at {verdict['drift_share']:.0%} or more. "
        f"Window: {report['window']['rows']} record(s). Reference: {report['reference']['training_rows']} "
        f"training row(s), {report['reference']['holdout_rows']} holdout row(s)."
    )
    outputs = report["outputs"]
    output_section = (
        f'<h2>Model outputs</h2>{_verdict_rows(outputs)}<div class="cards">{"".join(map(_card, outputs))}</div>'
        if outputs
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f"<title>Drift report: {_e(report['model'])}</title><style>{_CSS}</style></head><body>"
        f"<h1>Drift report: {_e(report['model'])} {_badge(report['status'])}</h1>"
        f'<p class="meta">{_e(summary)}</p>'
        f"<h2>Findings</h2>{_findings(report['findings'])}"
        f"<h2>Features</h2>{_verdict_rows(report['features'])}"
        f'<div class="cards">{"".join(map(_card, report["features"]))}</div>'
        f"{output_section}"
        "</body></html>\n"
    )
