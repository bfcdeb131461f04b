"""PNG charts of the indicators (matplotlib's Agg renderer, no display needed): FPD by cohort
month as bars, recovery curves as lines, agreement and break rates as bars. Texts are in
pt-BR: people read them."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from analytics.indicators import CUT_LABELS, AgreementRow, CurveRow, FpdRow, value_label

LABELS = CUT_LABELS


# The label of a bar whose rate is null (nothing to count): no bar, not a 0% one.
NOTHING_COUNTED = "sem acordos"


def _percent(value: Decimal) -> float:
    return float(value) * 100


def _shown(percent: float) -> str:
    return f"{percent:.1f}%".replace(".", ",")  # pt-BR decimal comma


def _series_label(
    cuts: dict[str, str], dims: Sequence[str], carteiras: Mapping[str, str] | None = None
) -> str:
    return " / ".join(value_label(d, cuts[d], carteiras) for d in dims) if dims else "total"


def _number(value: float, _position: object = None) -> str:
    """An axis tick as pt-BR writes numbers: 12,5 not 12.5; whole numbers bare."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:g}".replace(".", ",")


def _pt_br_ticks(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(_number))


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110)
    return out.getvalue()


def _grouped_bars(
    ax: Axes,
    groups: list[str],
    series: dict[str, dict[str, tuple[float, str]]],
) -> None:
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        heights = [values.get(group, (0.0, ""))[0] for group in groups]
        bars = ax.bar(xs, heights, width=width * 0.95, label=name)
        ax.bar_label(bars, labels=[values.get(g, (0.0, ""))[1] for g in groups], fontsize=8)
    ax.set_xticks(range(len(groups)), groups, rotation=30 if len(groups) > 6 else 0)
    ax.set_ylabel("%")
    ax.set_ylim(0, 110)
    _pt_br_ticks(ax)
    if len(series) > 1 or next(iter(series), "total") != "total":
        ax.legend(fontsize=8)


def fpd_chart(
    rows: Sequence[FpdRow],
    *,
    k: int,
    as_of: dt.date,
    by: Sequence[str],
    carteiras: Mapping[str, str] | None = None,
) -> bytes:
    """Bars of FPD-k per cohort month (or per the first cut), one series per other cut."""
    x_dim = "cohort" if "cohort" in by else (by[0] if by else "")
    rest = [d for d in by if d != x_dim]
    groups: list[str] = []
    series: dict[str, dict[str, tuple[float, str]]] = {}
    for row in rows:
        group = value_label(x_dim, row.cuts[x_dim], carteiras) if x_dim else "total"
        if group not in groups:
            groups.append(group)
        if row.rate is None:
            bar = (0.0, "sem acordos maduros")
        else:
            percent = _percent(row.rate)
            bar = (percent, f"{_shown(percent)} ({row.defaulted}/{row.agreements})")
        series.setdefault(_series_label(row.cuts, rest, carteiras), {})[group] = bar
    fig = Figure(figsize=(max(6.0, 1.0 + 0.9 * len(groups) * max(1, len(series))), 4.5))
    ax = fig.add_subplot()
    if groups:
        _grouped_bars(ax, groups, series)
    ax.set_xlabel(LABELS.get(x_dim, x_dim))
    # Two lines: one would run past a narrow chart's edges.
    ax.set_title(
        f"FPD-{k} até {as_of:%d/%m/%Y}\nprimeira parcela em aberto {k} dia(s) após o vencimento",
        fontsize=10,
    )
    fig.tight_layout()
    return _png(fig)


def recovery_curve_chart(
    rows: Sequence[CurveRow],
    *,
    as_of: dt.date,
    by: Sequence[str],
    carteiras: Mapping[str, str] | None = None,
) -> bytes:
    """One line per cut: the share of the placed value received by each day since placement."""
    lines: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        points = lines.setdefault(_series_label(row.cuts, by, carteiras), [])
        if row.rate is not None:  # no debt that old yet: no point, not a 0% one
            points.append((row.days, _percent(row.rate)))
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.add_subplot()
    lines = {name: points for name, points in lines.items() if points}
    for name, points in lines.items():
        ax.plot([d for d, _ in points], [p for _, p in points], marker="o", label=name)
    ax.set_xlabel("dias desde a entrada da dívida")
    ax.set_ylabel("% do valor original recebido")
    ax.set_ylim(bottom=0)
    # Days are whole and start at placement, even for a single point.
    last_day = max((d for points in lines.values() for d, _ in points), default=0)
    ax.set_xlim(0, max(1, last_day) * 1.05)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _pt_br_ticks(ax)
    ax.grid(alpha=0.3)
    ax.set_title(f"Curva de recuperação (até {as_of:%d/%m/%Y})", fontsize=10)
    if lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def agreements_chart(
    rows: Sequence[AgreementRow],
    *,
    as_of: dt.date,
    by: Sequence[str],
    carteiras: Mapping[str, str] | None = None,
) -> bytes:
    """Bars of the agreement rate and the break rate per cut."""
    groups = [_series_label(row.cuts, by, carteiras) for row in rows]
    series: dict[str, dict[str, tuple[float, str]]] = {"taxa de acordo": {}, "taxa de quebra": {}}
    for group, row in zip(groups, rows, strict=True):
        if row.agreement_rate is not None:
            series["taxa de acordo"][group] = (
                _percent(row.agreement_rate),
                _shown(_percent(row.agreement_rate)),
            )
        elif row.debtors is not None:  # a cut of placements with no debtor placed
            series["taxa de acordo"][group] = (0.0, "sem devedores")
        if row.break_rate is None:  # no agreement closed: no rate, no bar
            series["taxa de quebra"][group] = (0.0, NOTHING_COUNTED)
        else:
            series["taxa de quebra"][group] = (
                _percent(row.break_rate),
                _shown(_percent(row.break_rate)),
            )
    if not series["taxa de acordo"]:  # agreement-only cuts: no debtors to rate
        del series["taxa de acordo"]
    fig = Figure(figsize=(max(6.0, 1.0 + 1.2 * len(groups)), 4.5))
    ax = fig.add_subplot()
    if groups:
        _grouped_bars(ax, groups, series)
    ax.set_xlabel(" / ".join(LABELS.get(d, d) for d in by))
    ax.set_title(f"Acordos e quebras (até {as_of:%d/%m/%Y})", fontsize=10)
    fig.tight_layout()
    return _png(fig)
