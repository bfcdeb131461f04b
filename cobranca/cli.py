"""`cobranca`: run the platform, one service, imports, tokens, the business clock and projection
rebuilds."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from analytics.cli import analytics_app
from cobranca.progress import progress_bar
from cobranca.services import SERVICES, service_main
from cobranca.simulation.cli import simulate

app = typer.Typer(no_args_is_help=True, help="cobranca: debt-collection platform")
token_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for the API")
app.add_typer(token_app, name="token")
clock_app = typer.Typer(
    no_args_is_help=True, help="The business clock: the date every service takes as today"
)
app.add_typer(clock_app, name="clock")
quarantine_app = typer.Typer(
    no_args_is_help=True, help="Messages a service kept without reading them (quarantine)"
)
app.add_typer(quarantine_app, name="quarantine")
# `cobranca analytics fpd|recovery|agreements`: indicators replayed from the topics.
app.add_typer(analytics_app, name="analytics")
# `cobranca simulate`: months of collection on the real platform, then the indicators.
app.command("simulate")(simulate)
console = Console(stderr=True)

DEMO_TENANT = "demo"
DEMO_ROWS = 3000
DEMO_SEED = 2026


def _settings() -> Any:
    from service_runtime.settings import Settings

    return Settings()


@app.command()
def serve(service: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}")]) -> None:
    """Run one service in the foreground (what a container runs)."""
    if service not in SERVICES:
        console.print(f"[red]unknown service {service!r}[/]; use one of {', '.join(SERVICES)}")
        raise typer.Exit(2)
    from service_runtime.logs import configure_logging

    settings = _settings()
    configure_logging(service, settings.log_level)
    service_main(service)()


def _valid_tenant(tenant: str) -> str:
    """The tenant option, by the events' own rule (contracts.envelope): a token or an import
    for a tenant no event can carry would only fail later, in the relay."""
    from contracts.envelope import TENANT_NAME_RULE_EN, TENANT_RULE_EN, tenant_name_problem

    named = tenant_name_problem(tenant)
    if named:
        rule, problem = named
        english = TENANT_RULE_EN if rule == "tenant_length" else TENANT_NAME_RULE_EN
        raise typer.BadParameter(f"{problem} ({english})")
    return tenant


def _valid_ttl_days(days: int) -> int:
    if days < 1:
        raise typer.BadParameter(
            "o token deve valer pelo menos 1 dia (must be at least 1 day): "
            f"com {days} ele já nasceria expirado"
        )
    return days


@token_app.command("create")
def token_create(
    tenant: Annotated[
        str, typer.Option(help="The agency (tenant) the token is for", callback=_valid_tenant)
    ],
    role: Annotated[str, typer.Option(help="admin, operator, analyst or integration")],
    subject: Annotated[str | None, typer.Option(help="Who uses it (default: role@tenant)")] = None,
    ttl_days: Annotated[
        int, typer.Option(help="Days until it expires (1 or more)", callback=_valid_ttl_days)
    ] = 30,
) -> None:
    """Issue a bearer token; prints it on standard output."""
    from services.gateway.adapters.tokens import STAFF_ROLES, issue_token

    if role not in STAFF_ROLES:
        console.print(f"[red]role must be one of {', '.join(STAFF_ROLES)}[/]")
        raise typer.Exit(2)
    token = issue_token(
        _settings().signing_key(),
        tenant=tenant,
        role=role,
        subject=subject,
        ttl=dt.timedelta(days=ttl_days),
    )
    print(token)


# The services that keep what they cannot read: the portfolio, of `carteiras.inbound`.
QUARANTINING_SERVICES = ("portfolio",)


def _quarantine_service(service: str) -> Any:
    """The service's application over its event store (the same settings as the service)."""
    if service not in QUARANTINING_SERVICES:
        console.print(
            f"[red]{service!r} keeps no messages in quarantine[/]; "
            f"one of {', '.join(QUARANTINING_SERVICES)}"
        )
        raise typer.Exit(2)
    from service_runtime.eventstore import build_application
    from services.portfolio.application.importing import PortfolioApplication

    return build_application(PortfolioApplication, _settings(), service)


def _resolution_line(message: Any) -> str:
    return (
        f"  resolvida em {message.resolved_at.isoformat(timespec='seconds')} "
        f"por {message.resolved_by}: {message.resolution_note}"
    )


@quarantine_app.command("list")
def quarantine_list(
    service: Annotated[
        str, typer.Option(help=f"One of: {', '.join(QUARANTINING_SERVICES)}")
    ] = "portfolio",
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object a line, the payload whole")
    ] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="The resolved ones too, with who, when and the note")
    ] = False,
) -> None:
    """The messages a service kept unread (not JSON, not a row, no import or row named) and
    nobody resolved yet, oldest first, read from its event store: the id to resolve it by,
    where each was, why, and what it held. --all lists the resolved ones too."""
    import json

    from services.portfolio.application.importing import kept_messages

    kept = kept_messages(_quarantine_service(service))
    shown = kept if show_all else [m for m in kept if not m.resolved]
    if as_json:
        for message in shown:
            print(json.dumps(message.as_dict(), ensure_ascii=False))
    else:
        for message in shown:
            print(
                f"{message.id}  {message.topic}[{message.partition}]@{message.offset}  "
                f"guardada em {message.kept_at.isoformat(timespec='seconds')}  "
                f"assessoria {message.tenant or '-'}  importação {message.import_id or '-'}"
            )
            print(f"  motivo: {message.reason[:300]}")
            print(f"  conteúdo: {message.payload[:120]}{'…' if len(message.payload) > 120 else ''}")
            if message.resolved:
                print(_resolution_line(message))
    resolved = sum(1 for m in kept if m.resolved)
    hidden = "" if show_all or not resolved else " (as resolvidas: --all)"
    console.print(
        f"{len(kept)} mensagem(ns) em quarentena: {len(kept) - resolved} aberta(s), "
        f"{resolved} resolvida(s){hidden}"
    )


def _operator() -> str:
    """Who runs the command, by the system's account name."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _business_now(settings: Any) -> dt.datetime:
    """Now, on the business date, as the services have it: the clock topic's latest day (what
    `cobranca clock show` reads). With no Kafka to read it from, or before the clock's first
    day, the services' own fallback (COBRANCA_CLOCK_START, COBRANCA_TODAY, the date in
    America/Sao_Paulo), said on standard error."""
    from aiokafka.errors import KafkaError

    from service_runtime.clock import BusinessClock
    from service_runtime.kafka import NoKafkaConfigured, bootstrap_servers
    from services.clock.adapters.client import last_day

    clock = BusinessClock.from_settings(settings)
    why = "o relógio ainda não anunciou nenhuma data"
    try:
        day = asyncio.run(asyncio.wait_for(last_day(bootstrap_servers(settings)), 20.0))
    except NoKafkaConfigured:
        day, why = None, "sem Kafka configurado para ler o relógio"
    except (TimeoutError, KafkaError, OSError) as exc:
        day, why = None, f"o Kafka não respondeu ({type(exc).__name__})"
    if day is not None:
        clock.observe(day.date)
    else:
        console.print(
            f"[yellow]{why}: a data de negócio usada é {clock.today().isoformat()} "
            "(COBRANCA_CLOCK_START, COBRANCA_TODAY ou a data em America/Sao_Paulo)[/]"
        )
    return clock.now()


@quarantine_app.command("resolve")
def quarantine_resolve(
    message_id: Annotated[
        str, typer.Argument(metavar="ID", help="The id `cobranca quarantine list` shows")
    ],
    note: Annotated[
        str, typer.Option(help="What was done: asked the sender again, left it, and why")
    ],
    service: Annotated[
        str, typer.Option(help=f"One of: {', '.join(QUARANTINING_SERVICES)}")
    ] = "portfolio",
    by: Annotated[
        str | None, typer.Option("--by", help="Who dealt with it (default: your account name)")
    ] = None,
) -> None:
    """Mark a kept message resolved: who, when (the business clock) and the note, recorded
    as an event of the message. It stays kept, listed with --all. Resolving it again records
    nothing: the first resolution stands."""
    from services.portfolio.application.importing import (
        UnknownKeptMessage,
        find_kept,
        resolve_kept,
    )

    if not note.strip():
        console.print("[red]--note não pode ser vazia: diga o que foi feito e por quê[/]")
        raise typer.Exit(2)
    app = _quarantine_service(service)
    try:
        message = find_kept(app, message_id)
        recorded = False
        if not message.resolved:
            # The clock is read only for a message there is to resolve.
            message, recorded = resolve_kept(
                app,
                message.id,
                note=note,
                resolved_by=(by or "").strip() or _operator(),
                resolved_at=_business_now(_settings()),
            )
    except UnknownKeptMessage as exc:
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from None
    where = f"{message.topic}[{message.partition}]@{message.offset}"
    if recorded:
        print(f"{message.id}  {where}: resolvida")
        print(_resolution_line(message))
    else:
        print(f"{message.id}  {where}: já estava resolvida; nada gravado agora")
        print(_resolution_line(message))


def _token_for(tenant: str, token: str | None) -> str:
    if token:
        return token
    from services.gateway.adapters.tokens import issue_token

    return issue_token(
        _settings().signing_key(),
        tenant=tenant,
        role="operator",
        subject="cli",
        ttl=dt.timedelta(hours=1),
    )


# An import's status as the operator reads it (the API keeps the English code).
IMPORT_STATUS_PT = {
    "received": "recebida",
    "processing": "em processamento",
    "completed": "concluída",
}


def _gateway_unreachable(base_url: str, exc: Exception) -> typer.Exit:
    """The gateway is not there (down, or another --url): said in one line, not a traceback;
    the exit to raise."""
    from rich.markup import escape

    reason = escape(f"{base_url} (could not reach the gateway): {type(exc).__name__}: {exc}")
    console.print(
        f"[red]não foi possível falar com o gateway em {reason.rstrip('.')}. "
        "Ele está rodando? (cobranca up)[/]",
        highlight=False,
        soft_wrap=True,
    )
    return typer.Exit(1)


def _print_summary(status: dict[str, Any]) -> None:
    table = Table(title="Importação", show_header=False)
    for label, key in (
        ("id", "import_id"),
        ("situação", "status"),
        ("linhas no arquivo", "rows_total"),
        ("linhas lidas", "rows_read"),
        ("aceitas", "accepted"),
        ("  novas", "created"),
        ("  atualizadas", "updated"),
        ("  sem mudança", "unchanged"),
        ("recusadas", "rejected"),
        ("acordos encerrados", "agreements_ended"),
    ):
        value = status.get(key)
        if key == "status":
            value = IMPORT_STATUS_PT.get(str(value), value)
        if key == "agreements_ended":
            if value is None:
                continue  # a gateway from before it
            value = _agreements_ended_line(status)
        table.add_row(label, str(value))
    console.print(table)
    _print_ended_agreements(status.get("ended_agreements") or [])
    if status.get("rejections"):
        rejected = Table(title="Linhas recusadas")
        rejected.add_column("linha", justify="right")
        # As typed in the file, valid or not (QA D6: a bad CNPJ's was nowhere); a status from
        # a gateway before it, the valid one.
        rejected.add_column("documento")
        rejected.add_column("motivo")
        for r in status["rejections"]:
            typed = r.get("document_as_received") or r.get("document") or "-"
            rejected.add_row(str(r.get("row_number") or r.get("row_key")), typed, r["reason"])
        console.print(rejected)


def ends_are_known(status: dict[str, Any]) -> bool:
    """Whether the agreements an import ended are all known: only a lowered amount (a row that
    updated a debt) ends one, and negotiation ends it after reading the rows, a moment after
    the import completes (QA pass 9, D6: a one-row file always printed 0). Known for a
    completed import that updated no debt; for one that did, more may still come."""
    return status.get("status") == "completed" and not status.get("updated")


def _agreements_ended_line(status: dict[str, Any]) -> str:
    count = int(status.get("agreements_ended") or 0)
    if ends_are_known(status):
        return str(count)
    later = f"consulte `cobranca import-status {status.get('import_id')}` em instantes"
    if count:
        return f"{count} até agora; outros podem vir: {later}"
    return f"ainda não se sabe (a negociação lê as linhas atualizadas logo depois): {later}"


def _print_ended_agreements(ended: list[dict[str, Any]]) -> None:
    """The agreements the import's rows ended by lowering a debt's amount (negotiation ends
    them after reading the rows: an import just finished may show none yet; `cobranca
    import-status` shows them later)."""
    if not ended:
        return
    from contracts.money import format_brl

    table = Table(title="Acordos encerrados por redução de valor")
    table.add_column("chave da linha")
    table.add_column("contrato")
    table.add_column("parcela")
    table.add_column("acordo")
    table.add_column("valor anterior", justify="right")
    table.add_column("valor novo", justify="right")
    for e in ended:
        table.add_row(
            str(e["row_key"]),
            str(e["contract"]),
            str(e["installment"]),
            str(e["agreement_id"]),
            format_brl(int(e["old_amount_cents"])),
            format_brl(int(e["new_amount_cents"])),
        )
    console.print(table)


def run_import(
    client: Any, data: bytes, filename: str | None, wait: bool = True, quiet: bool = False
) -> dict[str, Any]:
    accepted: dict[str, Any] = client.upload_carteira(data, filename)
    if not wait:
        return accepted
    total = accepted["rows"]
    with progress_bar(console, "importando", disable=quiet) as progress:
        task = progress.add_task("import", total=total)
        status = client.wait_for_import(
            accepted["import_id"],
            on_progress=lambda s: progress.update(task, completed=s.get("rows_read") or 0),
        )
    return dict(status)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The carteira CSV")],
    tenant: Annotated[
        str, typer.Option(help="The agency (tenant) importing it", callback=_valid_tenant)
    ],
    url: Annotated[str | None, typer.Option(help="Gateway URL")] = None,
    token: Annotated[
        str | None, typer.Option(help="Bearer token (default: one made locally)")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the import to finish")] = True,
) -> None:
    """Import a carteira through the gateway, with a progress bar and the summary."""
    import httpx
    from rich.markup import escape

    from cobranca.client import GatewayClient, GatewayError

    settings = _settings()
    base_url = url or settings.base_url
    try:
        client = GatewayClient(base_url, _token_for(tenant, token))
        status = run_import(client, file.read_bytes(), file.name, wait)
    except GatewayError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise _gateway_unreachable(base_url, exc) from exc
    except TimeoutError as exc:
        console.print(f"[red]a importação não terminou a tempo (timed out): {escape(str(exc))}[/]")
        raise typer.Exit(1) from exc
    if wait:
        _print_summary(status)
    else:
        print(status["import_id"])


@app.command("import-status")
def import_status(
    import_id: Annotated[str, typer.Argument(help="The id `cobranca import` printed")],
    tenant: Annotated[
        str, typer.Option(help="The agency (tenant) that imported it", callback=_valid_tenant)
    ],
    url: Annotated[str | None, typer.Option(help="Gateway URL")] = None,
    token: Annotated[
        str | None, typer.Option(help="Bearer token (default: one made locally)")
    ] = None,
) -> None:
    """An import's summary read again from the gateway (GET /api/v1/carteiras/{id}), the
    table `cobranca import` prints: with the agreements its rows ended, which negotiation
    ends a moment after the import completes."""
    import httpx
    from rich.markup import escape

    from cobranca.client import GatewayClient, GatewayError

    base_url = url or _settings().base_url
    try:
        status = GatewayClient(base_url, _token_for(tenant, token)).import_status(import_id)
    except GatewayError as exc:
        if exc.status == 404:
            console.print(f"[red]importação {escape(import_id)} não encontrada em {tenant}[/]")
        else:
            console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise _gateway_unreachable(base_url, exc) from exc
    _print_summary(status)


@app.command()
def replay(
    projections: Annotated[
        list[str] | None,
        typer.Argument(
            help="Gateway projections (portal_view, timeline, import_status, call_list, "
            "conversations, audit, analytics); none means all of them",
            show_default=False,
        ),
    ] = None,
    target_url: Annotated[
        str | None,
        typer.Option(
            help="Rebuild into this database instead of the gateway's read database (a "
            "SQLite file that does not exist yet is loaded in bulk, and removed if it fails)"
        ),
    ] = None,
) -> None:
    """Rebuild projections from offset zero of their topics, together, a progress bar each."""
    from sqlalchemy import Engine

    from service_runtime.database import (
        bulk_loaded_sqlite,
        engine_from_url,
        service_engine,
        sqlite_file_to_load,
        vault_engine,
    )
    from service_runtime.kafka import bootstrap_servers
    from service_runtime.personal_data import SqlKeyVault
    from service_runtime.projection import replay_together
    from services.gateway.entrypoints.main import PROJECTION_NAMES, build_projections

    names = list(dict.fromkeys(projections or PROJECTION_NAMES))
    unknown = [name for name in names if name not in PROJECTION_NAMES]
    if unknown:
        console.print(
            f"[red]unknown projection {', '.join(map(repr, unknown))}[/]; "
            f"one of {', '.join(PROJECTION_NAMES)}"
        )
        raise typer.Exit(2)
    settings = _settings()
    # Personal data opens with the debtors' keys; erased ones stay removed in the rebuild.
    # The signing key keys the portal view's digests of dates of birth, as the gateway's do.
    built = build_projections(
        SqlKeyVault(vault_engine(settings), settings.vault_cache_seconds), settings.signing_key()
    )
    # A new SQLite file is loaded in bulk, and removed if the rebuild fails; a database that
    # exists (the gateway's own by default) is written as the gateway writes it.
    new_file = sqlite_file_to_load(target_url) if target_url else None
    target: contextlib.AbstractContextManager[Engine] = (
        bulk_loaded_sqlite(new_file)
        if new_file is not None
        else contextlib.nullcontext(
            engine_from_url(target_url, "gateway_rebuild")
            if target_url
            else service_engine(settings, "gateway", "read")
        )
    )
    bootstrap = bootstrap_servers(settings)
    with target as engine, progress_bar(console) as progress:
        tasks = {name: progress.add_task(name, total=None) for name in names}

        def report(name: str, done: int, total: int) -> None:
            progress.update(tasks[name], completed=done, total=total)

        # One pass over their topics: each event read and parsed once for all of them.
        counts = asyncio.run(
            replay_together(
                [built[name] for name in names],
                engine,
                bootstrap,
                report,
                bulk=new_file is not None,
            )
        )
    for name in names:
        console.print(f"{name}: rebuilt from {counts[name]} events")


@app.command()
def topics() -> None:
    """Create the declared topics on the configured Kafka (idempotent)."""
    from service_runtime.kafka import bootstrap_servers, ensure_topics

    settings = _settings()
    created = asyncio.run(
        ensure_topics(
            bootstrap_servers(settings),
            partitions=settings.topic_partitions,
            replication=settings.topic_replication,
            min_insync_replicas=settings.topic_min_insync_replicas,
        )
    )
    console.print(f"created: {', '.join(created) or 'nothing (all exist)'}")


@app.command("demo-carteira")
def demo_carteira(
    output: Annotated[Path, typer.Argument(help="Where to write the CSV")],
    rows: Annotated[int, typer.Option(help="Number of debts")] = DEMO_ROWS,
    seed: Annotated[int, typer.Option()] = DEMO_SEED,
) -> None:
    """Write a generated carteira (the demo's, by default)."""
    from cobranca.demo_data import write_carteira
    from service_runtime.clock import BusinessClock

    today = BusinessClock.from_settings(_settings()).today()
    write_carteira(output, rows, seed, today)
    console.print(f"{rows} rows written to {output}")


def _clock_failure(exc: Exception) -> str:
    """What went wrong talking to the clock, in words."""
    import json

    from service_runtime.request_reply import RequestRefused, RequestTimeout

    if isinstance(exc, RequestRefused):
        try:
            return str(json.loads(exc.body)["message"])
        except (ValueError, KeyError, TypeError):
            return str(exc)
    if isinstance(exc, RequestTimeout):
        return (
            f"o relógio não respondeu em {exc.timeout:g}s: o serviço clock está rodando? "
            "(cobranca up, ou cobranca serve clock)"
        )
    if isinstance(exc, TimeoutError):
        return "o Kafka não respondeu a tempo: a plataforma está rodando? (cobranca up)"
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, RuntimeError) else str(exc)


@clock_app.command("advance")
def clock_advance(
    days: Annotated[int, typer.Option(min=1, max=3660, help="How many days to move forward")] = 1,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the clock")] = 60.0,
) -> None:
    """Move a manual clock forward by N days (each day is announced, none skipped)."""
    from aiokafka.errors import KafkaError

    from service_runtime.request_reply import RequestRefused
    from services.clock.adapters.client import advance_clock, describe_date

    try:
        state = asyncio.run(advance_clock(_settings(), days, timeout))
    except (RequestRefused, TimeoutError, RuntimeError, KafkaError, OSError) as exc:
        console.print(f"[red]{_clock_failure(exc)}[/]")
        raise typer.Exit(1) from exc
    print(f"Data de negócio: {describe_date(state.today)}")


@clock_app.command("show")
def clock_show() -> None:
    """The business date now: the last day the clock announced."""
    from aiokafka.errors import KafkaError

    from service_runtime.kafka import bootstrap_servers
    from services.clock.adapters.client import describe_date, last_day

    try:
        day = asyncio.run(last_day(bootstrap_servers(_settings())))
    except (TimeoutError, RuntimeError, KafkaError, OSError) as exc:
        console.print(f"[red]{_clock_failure(exc)}[/]")
        raise typer.Exit(1) from exc
    if day is None:
        console.print("[red]o relógio ainda não anunciou nenhuma data[/]")
        raise typer.Exit(1)
    print(f"Data de negócio: {describe_date(day.date)}")
    mode = (
        "manual (avança com cobranca clock advance)" if day.mode == "manual" else "calendário real"
    )
    print(f"Relógio: {mode}")


@app.command()
def up(
    broker: Annotated[str, typer.Option(help="Embedded broker: tansu or kafka")] = "tansu",
    demo: Annotated[bool, typer.Option(help="Import the demo carteira (once)")] = True,
    clock: Annotated[
        str | None,
        typer.Option(
            "--clock",
            help="Business clock: wall (a new date every day at 06:00, America/Sao_Paulo; the "
            "default) or manual (moves only with `cobranca clock advance`)",
        ),
    ] = None,
    date: Annotated[
        str | None,
        typer.Option("--date", help="The manual clock's first date, YYYY-MM-DD"),
    ] = None,
) -> None:
    """Run the whole platform on this machine: broker, the services, demo data."""
    from cobranca.client import GatewayClient
    from cobranca.platform import Platform, clock_env
    from service_runtime.clock import BusinessClock
    from service_runtime.kafka import BOOTSTRAP_FILE
    from service_runtime.logs import configure_logging
    from services.gateway.adapters.tokens import issue_token

    settings = _settings()
    mode = clock or settings.clock_mode
    try:
        try:
            start = dt.date.fromisoformat(date) if date else None
        except ValueError:
            raise ValueError(f"--date must be a date YYYY-MM-DD, not {date!r}") from None
        env = clock_env(mode, start)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    updates: dict[str, Any] = {"clock_mode": mode}
    if start is not None:
        updates["clock_start"] = start.isoformat()
    settings = settings.model_copy(update=updates)
    configure_logging("up", settings.log_level)
    # The demo's set-up calls the API a few dozen times: what it did is printed, line by line.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    data_dir = settings.data_path
    data_dir.mkdir(parents=True, exist_ok=True)
    platform = Platform(
        data_dir=data_dir,
        env=env,
        broker_kind=broker,
        bootstrap=settings.kafka_bootstrap,
        log_dir=None,
    )
    settings.signing_key()  # created before any service starts, so all share it

    def _stop(*_: Any) -> None:
        # Ctrl-C or a SIGTERM, whenever it comes (even while importing the demo); installed
        # explicitly because a shell's background job starts with SIGINT ignored.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        if not settings.kafka_bootstrap:
            console.print(f"starting the embedded broker ({broker})...")
        platform.start()
        assert platform.bootstrap is not None
        (data_dir / BOOTSTRAP_FILE).write_text(platform.bootstrap + "\n")
        console.print(f"Kafka at {platform.bootstrap}; services starting...")
        key = settings.signing_key()
        admin_token = issue_token(
            key, tenant=DEMO_TENANT, role="admin", subject="admin@demo", ttl=dt.timedelta(days=30)
        )
        token_path = data_dir / "admin-token"
        token_path.write_text(admin_token + "\n")
        token_path.chmod(0o600)
        client = GatewayClient(settings.base_url, admin_token)
        client.wait_ready(timeout=180)
        marker = data_dir / "demo-imported"
        if demo and not marker.exists():
            from cobranca.demo_data import generate_carteira

            # The date the clock starts at (a first run: nothing recorded yet).
            today = BusinessClock.from_settings(settings).today()
            csv_text = generate_carteira(DEMO_ROWS, DEMO_SEED, today=today)
            console.print(
                f"importing the demo carteira ({DEMO_ROWS} debts, tenant '{DEMO_TENANT}')..."
            )
            status = run_import(client, csv_text.encode(), "carteira-demo.csv")
            marker.write_text(status["import_id"] + "\n")
            _print_summary(status | {"rejections": status["rejections"][:10]})
        messaging_marker = data_dir / "demo-messaging"
        if demo and not messaging_marker.exists():
            from cobranca.demo_messaging import seed_messaging

            created = seed_messaging(client)
            console.print(demo_messaging_line(created, data_dir))
            messaging_marker.write_text("done\n")
        ruler_marker = data_dir / "demo-ruler"
        if demo and not ruler_marker.exists():
            from cobranca.demo_ruler import run_ruler_now, seed_ruler

            if seed_ruler(client):
                console.print("demo tenant: collection ruler and call campaign created")
                # Today's run came before the demo carteira and this ruler: run it now.
                console.print(run_ruler_now(client))
            ruler_marker.write_text("done\n")
        negotiation_marker = data_dir / "demo-negotiation"
        if demo and not negotiation_marker.exists():
            from cobranca.demo_negotiation import seed_negotiation

            created = seed_negotiation(client)
            negotiation_marker.write_text(f"{created} conditions\n")
            if created:
                console.print(
                    f"demo tenant: {created} payment conditions and boleto/PIX settings created"
                )
        portal_marker = data_dir / "demo-portal"
        if demo and not portal_marker.exists():
            from cobranca.demo_portal import seed_portal

            if seed_portal(client):
                console.print(f"demo tenant: portal profile (/p/{DEMO_TENANT})")
            portal_marker.write_text("done\n")
        base = settings.base_url
        if mode == "manual":
            clock_line = "manual (cobranca clock advance --days N)"
        else:
            clock_line = f"wall (a new date every day at {settings.clock_day_starts_at})"
        console.print(
            "\n[bold green]cobranca is running[/]\n"
            f"  API docs:     {base}/schema/swagger  (also {base}/schema)\n"
            f"  Portal:       {base}/p/{DEMO_TENANT}  (the debtor's pages)\n"
            f"  Portal API:   POST {base}/api/v1/portal/{DEMO_TENANT}/lookup"
            ' {"document": "..."}\n'
            f"  Admin token:  {token_path}  (tenant '{DEMO_TENANT}', role admin)\n"
            f"  Data:         {data_dir}\n"
            f"  Clock:        {clock_line}; today {_gateway_today(client)}\n"
            "  Ctrl-C stops everything.\n"
        )
        while True:
            time.sleep(0.5)
            platform.check()
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the orderly stop short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        console.print("stopping...")
        (data_dir / BOOTSTRAP_FILE).unlink(missing_ok=True)
        platform.stop()


def demo_messaging_line(created: int, data_dir: Path) -> str:
    """What `up` says of the demo's templates: where their messages are written (the
    messaging service's outbox under the data directory, COBRANCA_DATA_DIR or ./var)."""
    outbox = data_dir / "messaging" / "outbox"
    return f"demo tenant: {created} message templates (sent to {outbox})"


def _gateway_today(client: Any) -> str:
    """The business date the gateway works with (its /health says), in words."""
    from services.clock.adapters.client import describe_date

    try:
        return describe_date(dt.date.fromisoformat(client.http.get("/health").json()["today"]))
    except Exception:
        return "?"


def main() -> None:
    # `python -m cobranca` and the `cobranca` script land here.
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    from aiokafka.errors import KafkaConnectionError

    from service_runtime.kafka import NoKafkaConfigured

    try:
        app(prog_name="cobranca")
    except NoKafkaConfigured as exc:
        # A setting missing, not a bug: said plainly, without a traceback.
        console.print(f"[red]{exc}[/]")
        raise SystemExit(2) from None
    except KafkaConnectionError as exc:
        # Kafka down or the address wrong: the log above has each try; this says what to check.
        console.print(
            f"[red]Kafka não respondeu ({exc}): confira COBRANCA_KAFKA_BOOTSTRAP e se o "
            "broker está no ar[/]"
        )
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
