"""`cobranca analytics fpd|recovery|agreements`: replay the topics from offset zero (no consumer
group, nothing committed), compute the indicator and print a table, or write CSV, JSON or a
PNG chart. Tables and charts are in pt-BR (people read them); CSV and JSON use the API's
field names."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from analytics.replay import Replayed

analytics_app = typer.Typer(
    no_args_is_help=True,
    help="Indicators replayed from the event streams: FPD, recovery, agreements and breaks",
)
console = Console(stderr=True)

FORMATS = ("table", "csv", "json", "png")

By = Annotated[
    list[str] | None,
    typer.Option(
        "--by",
        help="Cut by (repeat for several): tenant, cohort, creditor, carteira, channel, "
        "operator, installments, discount_band, aging_bucket, placement_month (each indicator "
        "says which it takes)",
    ),
]
AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="YYYY-MM-DD, today's business date or before (default: the business clock's "
        "date, its latest DayStarted; a later one is refused)",
    ),
]
Format = Annotated[str, typer.Option("--format", help="table, csv, json or png")]
Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file (png needs one; default: stdout)"),
]
Tenant = Annotated[str | None, typer.Option("--tenant", help="Only this agency (default: all)")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]{message}[/]")
    return typer.Exit(code)


# How the command line names the API's parameters (`indicators.Refusal.field`) and its own.
OPTIONS = {
    "by": "--by",
    "as_of": "--as-of",
    "curve_days": "--days",
    "grace_days": "--grace-days",
    "format": "--format",
    "output": "--output",
}


def _checked(
    indicator: str,
    fmt: str,
    output: Path | None,
    by: Sequence[str],
    as_of: str | None,
    *,
    days: Sequence[int] = (),
    grace_days: int = 0,
) -> dt.date | None:
    """The as-of date given, when every option is right; else every wrong option is said at
    once, each on its line, and the command ends (exit 2) before reading the topics (QA:
    `--by foo --grace-days -1` named only one). The indicator's checks are the API's
    (`indicators.refusals`); whether the as-of date has come is judged here only when
    something else is wrong (by the clock's latest date), else after the replay."""
    from analytics.indicators import refusals

    found = []
    if fmt not in FORMATS:
        found.append(("format", f"formato desconhecido: {fmt}; use um de: {', '.join(FORMATS)}"))
    if fmt == "png" and output is None:
        found.append(("output", "diga em que arquivo escrever o gráfico (--output ARQUIVO.png)"))
    date: dt.date | None = None
    if as_of is not None:
        try:
            date = dt.date.fromisoformat(as_of)
        except ValueError:
            found.append(("as_of", f"{as_of} não é uma data; escreva-a AAAA-MM-DD (2026-04-06)"))
    found += [(r.field, r.message) for r in refusals(indicator, None, by, None, days, grace_days)]
    if not found:
        return date
    if date is not None:
        found += [(r.field, r.message) for r in refusals(indicator, _clock_today(), (), date)]
    order = list(OPTIONS)
    for field, message in sorted(found, key=lambda f: order.index(f[0])):
        console.print(f"[red]{OPTIONS[field]}: {message}[/]", soft_wrap=True)
    raise typer.Exit(2)


def _clock_today() -> dt.date | None:
    """Today's business date as the clock last announced it; None when it cannot be read
    (the as-of date is then not judged: the other options are said all the same)."""
    from service_runtime.kafka import bootstrap_servers
    from service_runtime.settings import Settings
    from services.clock.adapters.client import last_day

    try:
        day = asyncio.run(last_day(bootstrap_servers(Settings())))
    except Exception:  # Kafka away: judge what can be judged without it
        return None
    return day.date if day is not None else None


def _replay(tenant: str | None) -> Replayed:
    from aiokafka.errors import KafkaError

    from analytics.replay import replay_facts
    from cobranca.progress import progress_bar
    from service_runtime.kafka import bootstrap_servers
    from service_runtime.settings import Settings

    try:
        bootstrap = bootstrap_servers(Settings())
    except RuntimeError as exc:
        raise _fail(str(exc), 1) from exc
    with progress_bar(console, "lendo os tópicos") as progress:
        task = progress.add_task("replay", total=None)
        try:
            replayed = asyncio.run(
                replay_facts(
                    bootstrap,
                    tenant=tenant,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
            )
        except (KafkaError, OSError) as exc:
            raise _fail(f"o Kafka em {bootstrap} não respondeu: {exc}", 1) from exc
    skipped = f"; {replayed.skipped} ignorados (tipo desconhecido)" if replayed.skipped else ""
    console.print(f"{replayed.read} eventos lidos{skipped}")
    return replayed


def _today(replayed: Replayed) -> dt.date:
    """Today's business date: the clock topic's latest DayStarted, else the platform's
    business clock as configured (a wall clock, or a pinned date)."""
    if replayed.as_of is not None:
        return replayed.as_of
    from service_runtime.clock import BusinessClock
    from service_runtime.settings import Settings

    return BusinessClock.from_settings(Settings()).today()


def _resolve_as_of(indicator: str, given: dt.date | None, replayed: Replayed) -> dt.date:
    """The as-of date: today's business date when none is given; a later one is refused
    (exit 2), as the API refuses it: a day that has not come has no figures."""
    from analytics.indicators import refusals

    today = _today(replayed)
    for refusal in refusals(indicator, today, as_of=given):
        raise _fail(f"{OPTIONS[refusal.field]}: {refusal.message}")
    return given or today


def _write(data: bytes | str, output: Path | None) -> None:
    if output is None:
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        return
    if isinstance(data, bytes):
        output.write_bytes(data)
    else:
        output.write_text(data, encoding="utf-8")
    console.print(f"escrito em {output}")


def _csv(records: list[dict[str, object]]) -> str:
    out = io.StringIO()
    if records:
        writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in records)
    return out.getvalue()


def _percent(value: object) -> str:
    if not isinstance(value, Decimal):
        return "-"
    return f"{value * 100:.2f}%".replace(".", ",")


def _table(
    title: str,
    by: Sequence[str],
    records: list[dict[str, object]],
    headers: dict[str, str],
    *,
    empty: str,
    carteiras: Mapping[str, str] | None = None,
) -> None:
    from rich.table import Table

    from analytics.indicators import CUT_LABELS, value_label
    from contracts.money import format_brl

    table = Table(title=title)
    for dim in by:
        table.add_column(CUT_LABELS.get(dim, dim))
    for header in headers.values():
        table.add_column(header, justify="right")
    for record in records:
        cells = [value_label(dim, str(record[dim]), carteiras) for dim in by]
        for name in headers:
            value = record[name]
            if name.endswith("rate"):
                cells.append(_percent(value))
            elif name.endswith("_cents") and isinstance(value, int):
                cells.append(format_brl(value))
            else:
                cells.append("-" if value is None else str(value))
        table.add_row(*cells)
    out = Console()
    if not records:
        # An empty table says nothing of why: the analyst reads the reason instead.
        out.print(empty)
        return
    # Piped output is 80 columns wide: widen it rather than cut amounts ("R$ 4.218.137,…").
    needed = out.measure(table, options=out.options.update_width(1_000)).maximum
    if needed > out.width:
        out = Console(width=needed)
    out.print(table)


@analytics_app.command("fpd")
def fpd_command(
    by: By = None,
    grace_days: Annotated[
        int,
        typer.Option("--grace-days", "-k", help="k of FPD-k: days after the due date (0 or more)"),
    ] = 0,
    as_of: AsOf = None,
    fmt: Format = "table",
    output: Output = None,
    tenant: Tenant = None,
) -> None:
    """First payment default: the share of mature agreements (the day first due date + k is
    over: before --as-of) whose first installment was not paid by due date + k."""
    from analytics import charts, indicators, reports

    cuts = list(dict.fromkeys(by or []))
    date = _checked("fpd", fmt, output, cuts, as_of, grace_days=grace_days)
    replayed = _replay(tenant)
    day = _resolve_as_of("fpd", date, replayed)
    rows = indicators.fpd(replayed.facts, k=grace_days, as_of=day, by=cuts)
    names = replayed.facts.carteira_names()
    if fmt == "png":
        _write(charts.fpd_chart(rows, k=grace_days, as_of=day, by=cuts, carteiras=names), output)
    elif fmt == "json":
        report = reports.fpd_report(replayed.facts, k=grace_days, as_of=day, by=cuts, tenant=tenant)
        _write(report.model_dump_json(indent=2) + "\n", output)
    elif fmt == "csv":
        _write(_csv(indicators.as_records(rows, cuts, names)), output)
    else:
        records = indicators.as_records(rows, cuts)
        _table(
            f"FPD-{grace_days} em {day:%d/%m/%Y}",
            cuts,
            records if any(r["agreements"] for r in records) else [],
            {"agreements": "acordos maduros", "defaulted": "inadimplentes", "rate": "FPD"},
            empty=f"nenhum acordo maduro para o FPD-{grace_days} em {day:%d/%m/%Y}: só contam "
            f"acordos cujo dia do vencimento da primeira parcela + {grace_days} já terminou "
            f"(antes de {day:%d/%m/%Y})",
            carteiras=names,
        )


@analytics_app.command("recovery")
def recovery_command(
    by: By = None,
    as_of: AsOf = None,
    fmt: Format = "table",
    output: Output = None,
    tenant: Tenant = None,
    curve: Annotated[
        bool, typer.Option("--curve", help="By days since placement (png always draws it)")
    ] = False,
    days: Annotated[
        list[int] | None,
        typer.Option(
            "--days",
            help="Points of the curve, in days since placement (repeat; each has its rows, "
            "0 debts and no rate while no debt is that old)",
        ),
    ] = None,
) -> None:
    """Recovery rate: money received over the original value of the debts placed; with
    --curve, by days since placement."""
    from analytics import charts, indicators, reports

    cuts = list(dict.fromkeys(by or []))
    horizons = tuple(days) if days else indicators.DEFAULT_CURVE_DAYS
    date = _checked("recovery", fmt, output, cuts, as_of, days=horizons)
    replayed = _replay(tenant)
    day = _resolve_as_of("recovery", date, replayed)
    curve_rows = indicators.recovery_curve(replayed.facts, as_of=day, by=cuts, days=horizons)
    rows = indicators.recovery(replayed.facts, as_of=day, by=cuts)
    names = replayed.facts.carteira_names()
    if fmt == "png":
        _write(charts.recovery_curve_chart(curve_rows, as_of=day, by=cuts, carteiras=names), output)
    elif fmt == "json":
        report = reports.recovery_report(
            replayed.facts, as_of=day, by=cuts, tenant=tenant, curve_days=horizons
        )
        _write(report.model_dump_json(indent=2) + "\n", output)
    elif fmt == "csv":
        _write(_csv(indicators.as_records(curve_rows if curve else rows, cuts, names)), output)
    else:
        money = {
            "debts": "dívidas",
            "placed_cents": "valor original",
            "received_cents": "recebido",
            "rate": "recuperação",
        }
        if curve:
            _table(
                f"Curva de recuperação em {day:%d/%m/%Y}",
                cuts,
                indicators.as_records(curve_rows, cuts),
                {"days": "dias desde a entrada"} | money,
                empty=f"nenhuma dívida importada até {day:%d/%m/%Y}",
                carteiras=names,
            )
        else:
            _table(
                f"Recuperação em {day:%d/%m/%Y}",
                cuts,
                indicators.as_records(rows, cuts),
                money,
                empty=f"nenhuma dívida importada até {day:%d/%m/%Y}",
                carteiras=names,
            )


@analytics_app.command("agreements")
def agreements_command(
    by: By = None,
    as_of: AsOf = None,
    fmt: Format = "table",
    output: Output = None,
    tenant: Tenant = None,
) -> None:
    """Agreement rate (debtors with an agreement over debtors placed) and break rate
    (agreements broken over agreements closed)."""
    from analytics import charts, indicators, reports

    cuts = list(dict.fromkeys(by or []))
    date = _checked("agreements", fmt, output, cuts, as_of)
    replayed = _replay(tenant)
    day = _resolve_as_of("agreements", date, replayed)
    rows = indicators.agreements(replayed.facts, as_of=day, by=cuts)
    names = replayed.facts.carteira_names()
    if fmt == "png":
        _write(charts.agreements_chart(rows, as_of=day, by=cuts, carteiras=names), output)
    elif fmt == "json":
        report = reports.agreements_report(replayed.facts, as_of=day, by=cuts, tenant=tenant)
        _write(report.model_dump_json(indent=2) + "\n", output)
    elif fmt == "csv":
        _write(_csv(indicators.as_records(rows, cuts, names)), output)
    else:
        _table(
            f"Acordos e quebras em {day:%d/%m/%Y}",
            cuts,
            indicators.as_records(rows, cuts),
            {
                "debtors": "devedores",
                "debtors_with_agreement": "com acordo",
                "agreement_rate": "taxa de acordo",
                "agreements": "acordos",
                "broken": "quebrados",
                "break_rate": "taxa de quebra",
            },
            empty=f"nenhuma dívida importada até {day:%d/%m/%Y}",
            carteiras=names,
        )
