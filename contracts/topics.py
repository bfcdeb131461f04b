"""The one declared list of topics: created by the platform at start, idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from contracts import carteiras, negotiation, portfolio, ruler
from contracts.envelope import Envelope


@dataclass(frozen=True)
class TopicSpec:
    name: str
    owner: str
    events: tuple[type[Envelope], ...]
    description: str
    partitions: int = 4
    # Event topics are replayed from offset zero by projections and analytics: keep everything.
    retention_ms: int = -1


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        carteiras.INBOUND_TOPIC,
        owner="portfolio (written by the gateway and client systems)",
        events=(carteiras.CarteiraImportRequested, carteiras.CarteiraRowSubmitted),
        description="Rows of carteiras to import, keyed by import_id",
    ),
    TopicSpec(
        carteiras.REJECTED_TOPIC,
        owner="portfolio",
        events=(carteiras.DebtRejected,),
        description="Rows that could not be imported, with the reason, keyed by import_id",
    ),
    TopicSpec(
        portfolio.DEBTS_TOPIC,
        owner="portfolio",
        events=(portfolio.DebtImported, portfolio.DebtUpdated),
        description="Debts of the portfolio, keyed by debt id",
    ),
    TopicSpec(
        portfolio.IMPORTS_TOPIC,
        owner="portfolio",
        events=(
            portfolio.CarteiraImportStarted,
            portfolio.CarteiraRowsProcessed,
            portfolio.CarteiraImportCompleted,
        ),
        description="Progress of carteira imports, keyed by import_id",
    ),
    TopicSpec(
        negotiation.AGREEMENTS_TOPIC,
        owner="negotiation",
        events=(negotiation.AgreementClosed,),
        description="Agreements, keyed by agreement id",
    ),
    TopicSpec(
        negotiation.INVOICES_TOPIC,
        owner="negotiation",
        events=(negotiation.InvoiceOverdue,),
        description="Agreement invoices, keyed by agreement id",
    ),
    TopicSpec(
        ruler.STAGES_TOPIC,
        owner="ruler",
        events=(ruler.StageAdvanced,),
        description="Stages of receivables in the collection ruler, keyed by receivable id",
    ),
)

TOPICS_BY_NAME = {t.name: t for t in TOPICS}
