"""The simulated world (pure): debtors with their debts from several creditors, dealt into
placement waves, and the carteira files each creditor sends per wave."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cobranca.demo_data import DEFAULT_CREDITORS, HEADER, generate_debtors
from cobranca.simulation.model import BehaviourModel, wave_of, waves_within

_DOCUMENT, _CREDITOR, _AMOUNT, _DUE = (
    HEADER.index(c) for c in ("documento", "credor", "valor_original", "vencimento")
)


def _cents(amount: str) -> int:
    return int(amount.replace(".", "").replace(",", ""))


def _date(text: str) -> dt.date:
    day, month, year = map(int, text.split("/"))
    return dt.date(year, month, day)


@dataclass(frozen=True)
class Debtor:
    index: int
    document: str  # digits (and letters, for an alphanumeric CNPJ) only
    wave: int
    rows: tuple[tuple[str, ...], ...]

    @property
    def creditors(self) -> list[str]:
        return sorted({row[_CREDITOR] for row in self.rows})

    def placed_cents(self) -> int:
        return sum(_cents(row[_AMOUNT]) for row in self.rows)

    def oldest_due(self, creditor: str | None = None) -> dt.date:
        return min(_date(row[_DUE]) for row in self.rows if creditor in (None, row[_CREDITOR]))


@dataclass(frozen=True)
class World:
    debtors: tuple[Debtor, ...]
    waves: int
    start: dt.date
    wave_interval_days: int

    def wave_day(self, wave: int) -> int:
        return wave * self.wave_interval_days

    def placed_on(self, debtor: Debtor) -> dt.date:
        return self.start + dt.timedelta(days=self.wave_day(debtor.wave))

    def carteiras(self, wave: int) -> dict[str, str]:
        """Each creditor's file for a wave: {creditor: CSV text}."""
        rows: dict[str, list[tuple[str, ...]]] = {}
        for debtor in self.debtors:
            if debtor.wave == wave:
                for row in debtor.rows:
                    rows.setdefault(row[_CREDITOR], []).append(row)
        files = {}
        for creditor, creditor_rows in sorted(rows.items()):
            out = io.StringIO()
            writer = csv.writer(out, delimiter=";", lineterminator="\n")
            writer.writerow(HEADER)
            writer.writerows(creditor_rows)
            files[creditor] = out.getvalue()
        return files


def build_world(
    debtors: int,
    days: int,
    seed: int,
    start: dt.date,
    model: BehaviourModel,
    creditors: Sequence[str] = DEFAULT_CREDITORS,
) -> World:
    """`debtors` debtors; a wave's debts are overdue 1 to 900 days on its placement day."""
    waves = max(1, waves_within(model, days))
    people: list[Debtor] = []
    for wave in range(waves):
        placed = start + dt.timedelta(days=wave * model.wave_interval_days)
        members = [i for i in range(debtors) if wave_of(i, waves) == wave]
        generated = generate_debtors(
            len(members), seed * 1_000 + wave, today=placed, creditors=creditors
        )
        for index, rows in zip(members, generated, strict=True):
            document = re.sub(r"[^0-9A-Za-z]", "", rows[0][_DOCUMENT]).upper()
            people.append(Debtor(index, document, wave, tuple(tuple(r) for r in rows)))
    people.sort(key=lambda d: d.index)
    return World(tuple(people), waves, start, model.wave_interval_days)
