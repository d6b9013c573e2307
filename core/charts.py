"""Charts for pages and PDFs, drawn on the server by pygal (a maintained charting library) as
SVG, and shown as an ``<img>`` (a ``data:`` URI): it works offline, under the pages' Content
Security Policy (an image's own styles are its business, not the page's) and in WeasyPrint's
PDF alike. Each chart comes with a sentence that says what it shows (the image's ``alt``) and
the numbers as a table beside it, for people who cannot see it.

The SVG is made deterministic (pygal writes a random id, the date and a configuration script
into each chart): the same figures always give the same bytes.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pygal
from pygal.style import Style

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#6b7785",
    colors=("#2f6fb5", "#c2410c", "#15803d", "#7c3aed", "#a16207"),
    font_family="DejaVu Sans, Helvetica, Arial, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    value_font_size=11,
    legend_font_size=12,
    title_font_size=14,
    no_data_font_size=16,
)
_ID = re.compile(r"chart-[0-9a-f-]{36}|(?<=\[')[0-9a-f-]{36}(?='\])")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SCRIPT = re.compile(r"<script.*?</script>", re.S)


@dataclass(frozen=True)
class Chart:
    svg: str
    summary: str

    @property
    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode()).decode("ascii")


def _render(chart: pygal.graph.graph.Graph, name: str) -> str:
    svg = chart.render(is_unicode=True, disable_xml_declaration=True)
    svg = _SCRIPT.sub("", _COMMENT.sub("", svg))
    return _ID.sub(f"chart-{name}", svg)


def bars(
    name: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    summary: str,
    width: int = 640,
    height: int = 260,
    percent: bool = False,
    whole: bool = False,
    empty: str = "Nothing to show",
    label_every: int = 1,
) -> Chart:
    """A bar chart: one group of bars per label, one bar per series (a legend when several).
    ``percent``: a 0-100 % axis; ``whole``: counts, so the axis marks whole numbers only."""
    peak = max((value for values in series.values() for value in values if value is not None), default=0)
    y_labels = None
    if whole:
        top = max(2, int(peak) + int(peak) % 2)
        step = max(1, top // 5)
        y_labels = list(range(0, top + step, step))
    chart = pygal.Bar(
        js=[],
        style=STYLE,
        width=width,
        height=height,
        explicit_size=True,
        show_legend=len(series) > 1,
        legend_at_bottom=True,
        print_values=False,
        x_label_rotation=0,
        truncate_label=-1,
        range=(0, 100) if percent else ((0, y_labels[-1]) if y_labels else None),
        y_labels=y_labels,
        no_data_text=empty,
        x_labels_major_every=label_every if label_every > 1 else None,
        show_minor_x_labels=label_every <= 1,
        value_formatter=(lambda v: f"{v:.0f}%") if percent else (lambda v: f"{v:g}"),
        margin=12,
    )
    chart.x_labels = list(labels)
    for title, values in series.items():
        chart.add(title, list(values))
    return Chart(svg=_render(chart, name), summary=summary)
