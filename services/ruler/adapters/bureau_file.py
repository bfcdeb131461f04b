"""The credit bureau (negativação) port, and its default adapter: remittance files on disk.

No real bureau is needed to run the platform: `FileBureau` writes the fixed-width remittance
files an operator (or a later integration) uploads to Serasa, SPC or a protest notary. The
layout is inspired by their remittance files; one record per line, ASCII, LF line ends:

    field           start  width  content
    record type         1      1  "I" inclusion, "E" exclusion
    occurred on         2      8  YYYYMMDD
    document kind      10      1  "1" CPF, "2" CNPJ
    document           11     14  digits (CPF) or A-Z/digits (CNPJ), left-aligned
    debtor name        25     40  ASCII uppercase, accents folded, left-aligned
    creditor           65     40  ASCII uppercase, accents folded, left-aligned
    contract          105     20  ASCII, left-aligned, blank when there is none
    amount            125     15  centavos, zero-padded
    due date          140      8  YYYYMMDD
    record key        148     64  left-aligned
    reason            212     30  exclusions only, ASCII uppercase, blank on inclusions
                                  (total 241)

Text longer than its field is cut. The record key identifies the listing, so it is never
cut: `BureauRecord` keeps a key of up to 64 printable ASCII characters as it is and turns a
longer (or non-ASCII) one, such as the ruler's action keys with a UUID receivable id, into a
deterministic 64-character key: its first 31 characters, "~", and 32 hex digits of its
SHA-256. `record.record_key` is then the key to store and to exclude with. The tenant is not
a field: keys carry it. One file per day, `remessa-YYYYMMDD.txt`, by the record's
`occurred_on`. A single writer per directory is assumed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from contracts.documents import document_kind, normalize_document

__all__ = [
    "LINE_LENGTH",
    "BureauRecord",
    "CreditBureau",
    "FileBureau",
    "fit_record_key",
    "format_line",
]

RecordType = Literal["I", "E"]

# (name, width) in file order; positions follow from the widths.
_FIELDS: tuple[tuple[str, int], ...] = (
    ("record_type", 1),
    ("occurred_on", 8),
    ("document_kind", 1),
    ("document", 14),
    ("debtor_name", 40),
    ("creditor", 40),
    ("contract", 20),
    ("amount_cents", 15),
    ("due_date", 8),
    ("record_key", 64),
    ("reason", 30),
)
LINE_LENGTH = sum(width for _, width in _FIELDS)
assert LINE_LENGTH == 241, LINE_LENGTH  # the layout in the docstring

_SLICES: dict[str, slice] = {}
_start = 0
for _name, _width in _FIELDS:
    _SLICES[_name] = slice(_start, _start + _width)
    _start += _width
del _start, _name, _width

_KEY_WIDTH = dict(_FIELDS)["record_key"]
_MAX_AMOUNT = 10 ** dict(_FIELDS)["amount_cents"] - 1
_PRINTABLE = re.compile(r"[\x20-\x7e]+")
_NOT_PLAIN = re.compile(r"[^\x21-\x7e]")
_FILE_GLOB = "remessa-*.txt"


@dataclass(frozen=True)
class BureauRecord:
    """One listing at the bureau. `document` may come formatted; it is kept bare. A record key
    that does not fit the 64-character field is shortened deterministically (see above)."""

    record_key: str
    tenant: str
    document: str
    debtor_name: str
    creditor: str
    contract: str
    amount_cents: int
    due_date: dt.date
    occurred_on: dt.date

    def __post_init__(self) -> None:
        document = normalize_document(self.document)
        if document_kind(document) is None:
            raise ValueError("document: CPF has 11 digits, CNPJ 14 characters (0-9, A-Z)")
        object.__setattr__(self, "document", document)
        if not 0 <= self.amount_cents <= _MAX_AMOUNT:
            raise ValueError(f"amount_cents: must be between 0 and {_MAX_AMOUNT}")
        if not self.record_key:
            raise ValueError("record_key: required")
        object.__setattr__(self, "record_key", fit_record_key(self.record_key))


def fit_record_key(key: str) -> str:
    """The key itself when it fits the record key field, else a 64-character stand-in that is
    the same for the same key (so repeated runs stay idempotent) and keeps a readable head."""
    if len(key) <= _KEY_WIDTH and _PRINTABLE.fullmatch(key) and key == key.strip():
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    head = _NOT_PLAIN.sub("_", key)[: _KEY_WIDTH - len(digest) - 1]
    return f"{head}~{digest}"


class CreditBureau(Protocol):
    """Where listings are sent. Both calls must be idempotent: runs are repeated after crashes
    and events are delivered at least once."""

    name: str

    def include(self, record: BureauRecord) -> None: ...

    def exclude(self, record: BureauRecord, reason: str) -> None: ...


def _ascii(text: str) -> str:
    # Fixed widths count characters, and bureaus read ASCII: fold accents, drop what has no
    # ASCII form, and turn control characters (a newline would split the line) into spaces.
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join("".join(c if c.isprintable() else " " for c in folded).split())


def _text(value: str, width: int) -> str:
    return value[:width].ljust(width)


def format_line(record_type: RecordType, record: BureauRecord, reason: str = "") -> str:
    """One remittance line, without its line end, exactly LINE_LENGTH characters."""
    key = record.record_key
    if len(key) > _KEY_WIDTH or not _PRINTABLE.fullmatch(key) or key != key.strip():
        raise ValueError(
            f"record_key: up to {_KEY_WIDTH} printable ASCII characters, no surrounding "
            f"spaces (got {key!r})"
        )
    kind = "1" if document_kind(record.document) == "cpf" else "2"
    line = "".join(
        (
            record_type,
            f"{record.occurred_on:%Y%m%d}",
            kind,
            _text(record.document, 14),
            _text(_ascii(record.debtor_name).upper(), 40),
            _text(_ascii(record.creditor).upper(), 40),
            _text(_ascii(record.contract), 20),
            f"{record.amount_cents:015d}",
            f"{record.due_date:%Y%m%d}",
            _text(key, _KEY_WIDTH),
            _text(_ascii(reason).upper() if record_type == "E" else "", 30),
        )
    )
    assert len(line) == LINE_LENGTH, len(line)
    return line


def _parse(line: str) -> dict[str, str]:
    if len(line) != LINE_LENGTH or line[0] not in "IE":
        raise ValueError(f"not a remittance line ({len(line)} characters): {line[:40]!r}")
    return {name: line[cut].rstrip() for name, cut in _SLICES.items()}


class FileBureau:
    """The default bureau: appends inclusions and exclusions to daily remittance files."""

    def __init__(self, directory: Path, name: str = "arquivo-remessa") -> None:
        self.directory = directory
        self.name = name

    def include(self, record: BureauRecord) -> None:
        self._write("I", record, "")

    def exclude(self, record: BureauRecord, reason: str) -> None:
        self._write("E", record, reason)

    def file_for(self, occurred_on: dt.date) -> Path:
        return self.directory / f"remessa-{occurred_on:%Y%m%d}.txt"

    def _write(self, record_type: RecordType, record: BureauRecord, reason: str) -> None:
        line = format_line(record_type, record, reason)
        path = self.file_for(record.occurred_on)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+b") as handle:
            handle.seek(0)
            content = handle.read().decode("ascii")
            complete, _, partial = content.rpartition("\n")
            if partial:
                # A crash cut the last line short: it was never written, so drop it rather
                # than glue the next record onto it.
                handle.truncate(len(content) - len(partial))
            key_cut = _SLICES["record_key"]
            for existing in complete.splitlines():
                # Only the type and the key are compared (parsing every field of every line
                # made a day of thousands of listings quadratic in parsing).
                if existing[:1] == record_type and existing[key_cut].rstrip() == record.record_key:
                    return  # already in today's file: a repeated run lists nothing twice
            handle.write(f"{line}\n".encode("ascii"))

    def _lines(self) -> Iterator[str]:
        if not self.directory.is_dir():
            return
        # File names carry the date, so name order is date order.
        for path in sorted(self.directory.glob(_FILE_GLOB)):
            complete, _, _partial = path.read_text(encoding="ascii").rpartition("\n")
            yield from complete.splitlines()

    def read_records(self) -> list[dict[str, str]]:
        """Every line of every file, in order, as its fields (trailing blanks removed)."""
        return [_parse(line) for line in self._lines()]

    def listed_keys(self) -> set[str]:
        """Keys included and not excluded afterwards, over all files in date order."""
        listed: set[str] = set()
        for fields in self.read_records():
            if fields["record_type"] == "I":
                listed.add(fields["record_key"])
            else:
                listed.discard(fields["record_key"])
        return listed
