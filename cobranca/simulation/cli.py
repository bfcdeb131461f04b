"""`cobranca simulate`: start the whole platform on a manual clock (or attach to one running),
set up a tenant as an agency would, let the simulated world live day by day through the API,
and print what happened and the indicators replayed from the topics."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cobranca.progress import progress_bar

console = Console(stderr=True)

# Thousands of debtors look themselves up from this one machine: the per-address and
# enumeration limits would (rightly) take the simulator for a robot.
SIMULATION_ENV = {
    "COBRANCA_LOOKUP_LIMIT_PER_ADDRESS": "0",
    "COBRANCA_LOOKUP_LIMIT_PER_DOCUMENT": "0",
    "COBRANCA_CLOSE_LIMIT_PER_ADDRESS": "0",
    "COBRANCA_ENUMERATION_MAX_DOCUMENTS": "0",
}
DEFAULT_START = dt.date(2026, 1, 5)


def simulate(
    debtors: Annotated[int, typer.Option(min=1, help="Debtors in the world")] = 10_000,
    days: Annotated[int, typer.Option(min=1, max=3660, help="Days to simulate")] = 180,
    seed: Annotated[int, typer.Option(help="The same seed gives the same world and choices")] = 42,
    tenant: Annotated[str, typer.Option(help="The simulated agency")] = "sim",
    start: Annotated[
        str, typer.Option(help="The first business date, YYYY-MM-DD")
    ] = DEFAULT_START.isoformat(),
    data_dir: Annotated[
        Path, typer.Option(help="Where the simulated platform keeps its data (must be new)")
    ] = Path("var/simulation"),
    fresh: Annotated[bool, typer.Option(help="Delete --data-dir first if it exists")] = False,
    broker: Annotated[str, typer.Option(help="Embedded broker: tansu or kafka")] = "tansu",
    workers: Annotated[int, typer.Option(min=1, max=32, help="Debtors acting at once")] = 6,
    keep: Annotated[
        bool, typer.Option(help="Keep the platform running afterwards, until Ctrl-C")
    ] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the summary as JSON here")
    ] = None,
) -> None:
    """Simulate months of collection on the real platform and print the indicators."""
    from cobranca.brokers.base import free_port
    from cobranca.client import GatewayClient
    from cobranca.platform import Platform, clock_env
    from cobranca.simulation.model import BehaviourModel
    from cobranca.simulation.world import build_world
    from service_runtime.settings import Settings

    try:
        first = dt.date.fromisoformat(start)
    except ValueError:
        console.print(f"[red]--start must be a date YYYY-MM-DD, not {start!r}[/]")
        raise typer.Exit(2) from None
    if data_dir.exists() and any(data_dir.iterdir()):
        if not fresh:
            console.print(
                f"[red]{data_dir} already has data[/]: a simulation starts from nothing "
                "(--fresh deletes it, --data-dir chooses another)"
            )
            raise typer.Exit(2)
        shutil.rmtree(data_dir)
    model = BehaviourModel()
    world = build_world(debtors, days, seed, first, model)
    port = free_port()
    env = {**clock_env("manual", first), **SIMULATION_ENV, "COBRANCA_HTTP_PORT": str(port)}
    # COBRANCA_KAFKA_BOOTSTRAP (and COBRANCA_DATABASE_URL) put it on a real cluster instead.
    platform = Platform(
        data_dir=data_dir.resolve(),
        env=env,
        broker_kind=broker,
        bootstrap=Settings().kafka_bootstrap,
        log_dir=data_dir / "logs",
    )
    settings = Settings(
        data_dir=data_dir.resolve(),
        http_port=port,
        clock_mode="manual",
        clock_start=first.isoformat(),
    )

    def _stop(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    summary: dict[str, Any] = {}
    try:
        console.print(f"starting the platform in {data_dir} ({broker}, manual clock at {first})...")
        settings.signing_key()
        platform.start()
        assert platform.bootstrap is not None
        settings = settings.model_copy(update={"kafka_bootstrap": platform.bootstrap})
        GatewayClient(settings.base_url).wait_ready(timeout=180)
        summary = _run(settings, world, days, seed, tenant, model, workers)
        _print(summary)
        if json_out:
            json_out.write_text(json.dumps(summary, indent=2, default=str) + "\n")
            console.print(f"summary written to {json_out}")
        if keep:
            console.print(
                f"\n[bold green]the platform is still running[/] at {settings.base_url} "
                f"(portal {settings.base_url}/p/{tenant}); Ctrl-C stops it."
            )
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        console.print("stopping...")
        platform.stop()


def _run(
    settings: Any,
    world: Any,
    days: int,
    seed: int,
    tenant: str,
    model: Any,
    workers: int,
) -> dict[str, Any]:
    from cobranca.simulation.driver import Tally
    from cobranca.simulation.session import run_simulation

    with progress_bar(console) as progress:
        task = progress.add_task("simulando", total=days)

        def on_day(day: int, today: dt.date, tally: Tally) -> None:
            agreed = sum(v for k, v in tally.counts.items() if k.startswith("agreements ("))
            progress.update(
                task,
                completed=day + 1,
                description=f"{today:%d/%m/%Y}: {agreed} acordos, "
                f"{tally.counts['payments']} pagamentos",
            )

        summary = run_simulation(
            settings, world, days, seed, tenant, model, workers=workers, on_day=on_day
        )
    return summary


def _percent(rate: object) -> str:
    return "-" if rate is None else f"{float(str(rate)) * 100:.1f}%".replace(".", ",")


# What the simulated people did, as the summary's JSON counts it (machine-stable English
# keys) and as a person reads it.
ACTIVITY_LABELS: dict[str, str] = {
    "debts placed": "dívidas importadas",
    "rows rejected": "linhas recusadas na importação",
    "portal lookups": "consultas no portal",
    "chatbot conversations": "conversas no chatbot",
    "chatbot without offers": "conversas no chatbot sem oferta",
    "chatbot closes failed": "acordos no chatbot que não fecharam",
    "calls not recorded": "ligações não registradas",
    "payments": "parcelas pagas pelo banco",
    # Counted by the simulated payers when they came to pay: not every broken agreement
    # (the topics' "quebrados" below are).
    "agreements found broken": "acordos que o devedor achou quebrados ao ir pagar",
}
_ACTIVITY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("agreements ({})", "acordos fechados ({})"),
    ("offers declined ({})", "ofertas recusadas pelo devedor ({})"),
    ("offers refused ({})", "ofertas negadas pela plataforma (HTTP {})"),
    ("gave up, platform busy ({})", "desistências, plataforma ocupada ({})"),
    ("calls: {}", "ligações: {}"),
)


def activity_label(what: str) -> str:
    """A count of the summary's activity in pt-BR: channels as the timeline names them
    (portal, chatbot, atendente), call results by the campaign's labels."""
    from analytics.indicators import value_label
    from contracts.ruler import DEFAULT_CALL_RESULTS

    if what in ACTIVITY_LABELS:
        return ACTIVITY_LABELS[what]
    results = {r.code: r.label.lower() for r in DEFAULT_CALL_RESULTS}
    for code, label in _ACTIVITY_PATTERNS:
        head, _, tail = code.partition("{}")
        if what.startswith(head) and what.endswith(tail) and len(what) > len(head + tail):
            value = what[len(head) : len(what) - len(tail)]
            if head == "calls: ":
                return label.format(results.get(value, value))
            return label.format(value_label("channel", value))
    return what


def _print(summary: dict[str, Any]) -> None:
    from analytics.indicators import value_label
    from contracts.money import format_brl

    out = Console()
    activity = Table(
        title=f"Simulação: {summary['debtors']} devedores, {summary['days']} dias "
        f"(semente {summary['seed']})",
        show_header=False,
    )
    for what, count in summary["activity"].items():
        activity.add_row(activity_label(what), str(count))
    activity.add_row("valor pago", format_brl(summary["paid_cents"]))
    activity.add_row("impressão digital dos fluxos", summary["streams"]["fingerprint"])
    out.print(activity)
    fpd = Table(title=f"FPD em {summary['as_of']:%d/%m/%Y} (por canal)")
    for column in ("corte", "canal", "acordos maduros", "inadimplentes", "taxa"):
        fpd.add_column(column, justify="right" if column != "canal" else "left")
    for name, rows in summary["fpd"].items():
        for row in rows:
            fpd.add_row(
                name.upper().replace("_", "-"),
                value_label("channel", row["cuts"].get("channel", "todos")),
                str(row["agreements"]),
                str(row["defaulted"]),
                _percent(row["rate"]),
            )
    out.print(fpd)
    recovery = Table(title="Recuperação por credor")
    for column in ("credor", "dívidas", "colocado", "recebido", "taxa"):
        recovery.add_column(column, justify="right" if column != "credor" else "left")
    for row in summary["recovery"]:
        recovery.add_row(
            row["cuts"].get("creditor", "todos"),
            str(row["debts"]),
            format_brl(row["placed_cents"]),
            format_brl(row["received_cents"]),
            _percent(row["rate"]),
        )
    out.print(recovery)
    for row in summary["agreements"]:
        out.print(
            f"Acordos nos tópicos: {row['agreements']} ({row['debtors_with_agreement']} de "
            f"{row['debtors']} devedores, taxa de acordo {_percent(row['agreement_rate'])}); "
            f"quebrados: {row['broken']} (taxa de quebra {_percent(row['break_rate'])}; "
            "todos os que a plataforma quebrou, achados ao ir pagar ou não)"
        )
