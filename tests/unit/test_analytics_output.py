"""What an analyst reads: tables that keep whole amounts when piped to a file, a reason instead
of an empty table, and charts with pt-BR numbers."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from matplotlib.figure import Figure
from PIL import Image

from analytics import charts
from analytics.cli import _table
from analytics.indicators import AgreementRow, CurveRow, FpdRow

AS_OF = dt.date(2026, 11, 25)


def test_a_piped_table_keeps_every_amount_whole(capsys: pytest.CaptureFixture[str]) -> None:
    records: list[dict[str, object]] = [
        {
            "creditor": "Banco Horizonte S.A. (carteira de cartões de crédito)",
            "carteira": "carteira-novembro-2026-lote-principal.csv",
            "debts": 123_456,
            "placed_cents": 421_813_755_512,
            "received_cents": 98_765_432_101,
            "rate": Decimal("0.2341"),
        }
    ]
    headers = {
        "debts": "dívidas",
        "placed_cents": "valor original",
        "received_cents": "recebido",
        "rate": "recuperação",
    }

    _table("Recuperação", ["creditor", "carteira"], records, headers, empty="nada")

    shown = capsys.readouterr().out
    assert "R$ 4.218.137.555,12" in shown
    assert "R$ 987.654.321,01" in shown
    assert "…" not in shown


def test_no_rows_says_why_instead_of_an_empty_table(capsys: pytest.CaptureFixture[str]) -> None:
    _table("FPD-5", [], [], {"rate": "FPD"}, empty="nenhum acordo maduro para o FPD-5")

    assert capsys.readouterr().out.strip() == "nenhum acordo maduro para o FPD-5"


@pytest.mark.parametrize(
    ("value", "shown"), [(12.5, "12,5"), (40.0, "40"), (0.25, "0,25"), (100, "100")]
)
def test_chart_ticks_use_the_decimal_comma(value: float, shown: str) -> None:
    assert charts._number(value) == shown


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures the charts draw, kept to look at their axes."""
    figures: list[Figure] = []
    original = charts._png

    def keep(fig: Figure) -> bytes:
        figures.append(fig)
        return original(fig)

    monkeypatch.setattr(charts, "_png", keep)
    return figures


def test_a_recovery_curve_of_one_point_starts_at_day_zero_with_whole_days(
    drawn: list[Figure],
) -> None:
    row = CurveRow({}, days=30, debts=10, placed_cents=100_000, received_cents=12_500)

    png = charts.recovery_curve_chart([row], as_of=AS_OF, by=[])

    assert Image.open(io.BytesIO(png)).format == "PNG"
    ax = drawn[0].axes[0]
    left, right = ax.get_xlim()
    assert left == 0 and right >= 30
    assert all(float(t).is_integer() for t in ax.get_xticks())
    assert all("." not in label.get_text() for label in ax.get_yticklabels())


def test_the_fpd_title_fits_inside_the_chart(drawn: list[Figure]) -> None:
    row = FpdRow({"cohort": "2026-10"}, agreements=4, defaulted=1)

    charts.fpd_chart([row], k=30, as_of=AS_OF, by=["cohort"])

    fig = drawn[0]
    title = fig.axes[0].title.get_window_extent(fig.canvas.get_renderer())  # type: ignore[attr-defined]
    assert title.x0 >= 0 and title.x1 <= fig.bbox.width


def _bar_labels(fig: Figure) -> list[str]:
    from matplotlib.text import Annotation

    return [t.get_text() for t in fig.axes[0].texts if isinstance(t, Annotation)]


def test_a_creditor_without_agreements_has_no_break_rate_bar(drawn: list[Figure]) -> None:
    rows = [
        AgreementRow({"creditor": "Banco Horizonte"}, 10, 4, agreements=4, broken=1),
        AgreementRow({"creditor": "Varejo Bom Preço"}, 3, 0, agreements=0, broken=0),
    ]

    charts.agreements_chart(rows, as_of=AS_OF, by=["creditor"])

    labels = _bar_labels(drawn[0])
    assert "25,0%" in labels and "sem acordos" in labels
    assert "0,0%" in labels  # Varejo's agreement rate: 0 of 3 debtors, a real 0%
    assert labels.count("0,0%") == 1


def test_fpd_legend_names_channels_in_pt_br(drawn: list[Figure]) -> None:
    rows = [
        FpdRow({"cohort": "2026-03", "channel": "chatbot"}, agreements=2, defaulted=1),
        FpdRow({"cohort": "2026-03", "channel": "operator"}, agreements=4, defaulted=1),
        FpdRow({"cohort": "2026-03", "channel": "portal"}, agreements=0, defaulted=0),
    ]

    charts.fpd_chart(rows, k=5, as_of=AS_OF, by=["cohort", "channel"])

    legend = [t.get_text() for t in drawn[0].axes[0].get_legend().get_texts()]
    assert legend == ["chatbot", "atendente", "portal"]
    assert "sem acordos maduros" in _bar_labels(drawn[0])


def test_recovery_lines_come_in_the_buckets_order_and_skip_days_not_reached(
    drawn: list[Figure],
) -> None:
    from analytics import indicators
    from tests.unit.test_analytics_indicators import ACME, collect, history

    facts = collect(history()).for_tenant(ACME)
    curve = indicators.recovery_curve(
        facts, as_of=dt.date(2026, 3, 31), by=["aging_bucket"], days=[0, 30, 90]
    )

    charts.recovery_curve_chart(curve, as_of=dt.date(2026, 3, 31), by=["aging_bucket"])

    ax = drawn[0].axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "0-30", "31-90", "91-180", "181-360", ">360"
    ]  # fmt: skip
    # Day 90 is not reached by any debt on 31/03: no point at 0% for it.
    assert all(90 not in line.get_xdata() for line in ax.get_lines())


def test_a_chart_by_carteira_names_its_files(drawn: list[Figure]) -> None:
    rows = [
        AgreementRow({"carteira": "3f2a9c1e-0000"}, 10, 4, agreements=4, broken=1),
        AgreementRow({"carteira": "77b0d2aa-0000"}, 3, 1, agreements=1, broken=0),
    ]
    names = {"3f2a9c1e-0000": "lote.csv (3f2a9c1e)", "77b0d2aa-0000": "lote.csv (77b0d2aa)"}

    charts.agreements_chart(rows, as_of=AS_OF, by=["carteira"], carteiras=names)

    ticks = [t.get_text() for t in drawn[0].axes[0].get_xticklabels()]
    assert ticks == ["lote.csv (3f2a9c1e)", "lote.csv (77b0d2aa)"]
