"""Reading a carteira CSV as Brazilian clients really send it: bytes in, raw string rows out.

Files come out of Excel, ERPs and bank systems: UTF-8 with or without BOM or Windows-1252,
`;` (Excel pt-BR) or `,` or tab, headers in Portuguese with accents and any case, sometimes a
title line above the header, blank lines, trailing separators. This module only finds the
columns and the rows; the portfolio service validates each row's values.

It rejects, with `NotACarteiraCsv`, whatever is not a carteira at all (a PDF, a spreadsheet,
a file without the required columns), so that nothing of it is imported.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import itertools
import operator
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "CarteiraFile",
    "NotACarteiraCsv",
    "RawRow",
    "canonical_column",
    "read_carteira",
]

COLUMNS: tuple[str, ...] = (
    "document",
    "name",
    "creditor",
    "contract",
    "installment",
    "original_amount",
    "due_date",
    "email",
    "phone",
    "city",
    "state",
    "category",
    "status",
    "birth_date",
)
REQUIRED_COLUMNS: tuple[str, ...] = (
    "document",
    "name",
    "creditor",
    "contract",
    "original_amount",
    "due_date",
)

# How people call the columns in the messages they read.
_LABELS_PT = {
    "document": "documento",
    "name": "nome",
    "creditor": "credor",
    "contract": "contrato",
    "installment": "parcela",
    "original_amount": "valor original",
    "due_date": "vencimento",
    "email": "e-mail",
    "phone": "telefone",
    "city": "cidade",
    "state": "UF",
    "category": "categoria",
    "status": "situação",
    "birth_date": "data de nascimento",
}

# Header names after _header_key (no accents, case, spaces or punctuation) -> canonical name.
_ALIASES: dict[str, tuple[str, ...]] = {
    "document": (
        "documento",
        "cpf",
        "cnpj",
        "cpfcnpj",
        "cnpjcpf",
        "cpfoucnpj",
        "doc",
        "documentodevedor",
    ),
    "name": ("nome", "nomedevedor", "devedor", "nomecliente", "cliente", "razaosocial"),
    "creditor": ("credor", "nomecredor", "nomedocredor"),
    "contract": ("contrato", "numerocontrato", "numerodocontrato", "nocontrato", "nrcontrato"),
    "installment": ("parcela", "numeroparcela", "numerodaparcela", "noparcela", "nrparcela"),
    "original_amount": ("valor", "valororiginal", "valordadivida", "valordivida"),
    "due_date": ("vencimento", "datavencimento", "datadevencimento", "dtvencimento"),
    "email": ("email", "correioeletronico"),
    "phone": ("telefone", "celular", "fone", "telefonecelular"),
    "city": ("cidade", "municipio"),
    "state": ("uf", "estado"),
    "category": ("categoria",),
    # cancelado / devolvido: the creditor withdraws the debt (CarteiraRowSubmitted v2).
    "status": ("situacao", "situacaodivida", "situacaodotitulo", "situacaotitulo", "status"),
    # The portal's second factor (CarteiraRowSubmitted v3); a company's opening date comes in
    # the same column.
    "birth_date": (
        "datanascimento",
        "datadenascimento",
        "nascimento",
        "dtnascimento",
        "dtnasc",
        "datadeabertura",
        "dataabertura",
        "dtabertura",
        "datanascimentoabertura",
        "datadenascimentoouabertura",
    ),
}


def _header_key(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed.casefold() if c.isascii() and c.isalnum())


_HEADER_INDEX: dict[str, str] = {_header_key(c): c for c in COLUMNS}
for _canonical, _names in _ALIASES.items():
    _HEADER_INDEX.update((_header_key(n), _canonical) for n in _names)

_DELIMITERS = (";", ",", "\t", "|")
# A title or notes above the header is common in ERP exports; beyond this, it is no carteira.
_MAX_LINES_BEFORE_HEADER = 10

_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "um PDF"),
    (b"PK\x03\x04", "uma planilha do Excel (.xlsx) ou um arquivo compactado (.zip)"),
    (b"\xd0\xcf\x11\xe0", "uma planilha do Excel antiga (.xls) ou um documento do Office"),
    (b"\x89PNG", "uma imagem PNG"),
    (b"\xff\xd8\xff", "uma imagem JPEG"),
    (b"GIF8", "uma imagem GIF"),
    (b"\x1f\x8b", "um arquivo compactado (.gz)"),
    (b"Rar!", "um arquivo compactado (.rar)"),
    (b"7z\xbc\xaf", "um arquivo compactado (.7z)"),
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"


class NotACarteiraCsv(ValueError):
    """The upload is not a carteira CSV at all; the whole file is rejected.

    `message` is for the person who sent it (pt-BR); `rule` is a stable English code:
    "empty", "binary", "no_header", "missing_columns", "no_rows" or "malformed".
    """

    def __init__(self, rule: str, message: str, missing_columns: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.missing_columns = missing_columns


@dataclass(frozen=True, slots=True)
class RawRow:
    """One data row. `row_number` is the line where the row starts, as a person counts lines
    in the file (the header is usually line 1, so the first row is line 2).

    `fields` has every canonical column of the header (empty string when the row is short);
    columns absent from the header are absent here. `extra_values` holds non-empty values
    beyond the last header column, the sign of a row with an unquoted separator in a value.
    """

    row_number: int
    fields: dict[str, str]
    extra_values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CarteiraFile:
    encoding: str
    delimiter: str
    columns: list[str]
    rows: list[RawRow]
    ignored_columns: list[str] = field(default_factory=list)
    header_line: int = 1


def canonical_column(header: str) -> str | None:
    """The canonical column a header cell names, whatever its case, accents and spacing."""
    return _HEADER_INDEX.get(_header_key(header))


def _binary_kind(data: bytes) -> str | None:
    for signature, kind in _BINARY_SIGNATURES:
        if data.startswith(signature):
            return kind
    if b"\x00" in data:
        return "um arquivo binário"
    return None


def _decode(data: bytes) -> tuple[str, str]:
    """(text, encoding). UTF-8 is tried strictly first: cp1252 would also 'decode' UTF-8
    bytes, only into mojibake."""
    if data.startswith(_UTF16_BOMS):
        # Excel's "Texto Unicode" export; its NUL bytes are not binary data.
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise _binary_error("um arquivo binário") from None
    kind = _binary_kind(data)
    if kind is not None:
        raise _binary_error(kind)
    if data.startswith(_UTF8_BOM):
        try:
            return data[len(_UTF8_BOM) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        # The five bytes cp1252 leaves undefined: latin-1 still gives the letters back.
        return data.decode("latin-1"), "latin-1"


def _binary_error(kind: str) -> NotACarteiraCsv:
    return NotACarteiraCsv(
        "binary",
        f"o arquivo não é um CSV: parece ser {kind}. "
        "Exporte a carteira como CSV (valores separados por ';' ou ',') e envie de novo.",
    )


@dataclass(frozen=True, slots=True)
class _Header:
    line_index: int
    delimiter: str
    cells: list[str]
    canonical: list[str | None]

    @property
    def found(self) -> list[str]:
        return list(dict.fromkeys(c for c in self.canonical if c is not None))


def _parse_header(line_index: int, line: str) -> _Header:
    best: _Header | None = None
    for delimiter in _DELIMITERS:
        try:
            cells = next(csv.reader([line], delimiter=delimiter, skipinitialspace=True), [])
        except csv.Error:  # e.g. a one-line HTML or JSON body longer than csv's field limit
            cells = []
        canonical = [canonical_column(c) for c in cells]
        candidate = _Header(line_index, delimiter, cells, canonical)
        # The right delimiter is the one that makes the most known columns appear.
        if best is None or (len(candidate.found), len(cells)) > (len(best.found), len(best.cells)):
            best = candidate
    assert best is not None
    return best


def _missing(header: _Header) -> tuple[str, ...]:
    found = set(header.found)
    return tuple(c for c in REQUIRED_COLUMNS if c not in found)


def _find_header(lines: Iterator[str], scanned: list[str]) -> _Header:
    """The first line naming all required columns, among the first non-blank lines."""
    best: _Header | None = None
    non_blank = 0
    for index, line in enumerate(lines):
        scanned.append(line)
        if not line.strip():
            continue
        header = _parse_header(index, line)
        if not _missing(header):
            return header
        if best is None or len(header.found) > len(best.found):
            best = header
        non_blank += 1
        if non_blank >= _MAX_LINES_BEFORE_HEADER:
            break
    expected = ", ".join(_LABELS_PT[c] for c in REQUIRED_COLUMNS)
    if best is None:
        raise NotACarteiraCsv("empty", "o arquivo está vazio")
    if not best.found:
        raise NotACarteiraCsv(
            "no_header",
            "nenhum cabeçalho de carteira reconhecido: a primeira linha deve dar nome às "
            f"colunas, com pelo menos {expected}",
            REQUIRED_COLUMNS,
        )
    missing = _missing(best)
    labels = ", ".join(_LABELS_PT[c] for c in missing)
    raise NotACarteiraCsv(
        "missing_columns",
        f"faltam colunas obrigatórias no cabeçalho (linha {best.line_index + 1}): {labels}",
        missing,
    )


def _read_rows(records: Iterable[str], header: _Header, line_offset: int) -> list[RawRow]:
    # strict: a quote left open must not swallow the rest of the file into one field
    # (the lenient reader ends it silently at the end of the data).
    reader = csv.reader(records, delimiter=header.delimiter, skipinitialspace=True, strict=True)
    width = len(header.cells)
    names = header.found
    indexes = {n: [i for i, c in enumerate(header.canonical) if c == n] for n in names}
    # e.g. separate "CPF" and "CNPJ" columns, or "Telefone" and "Celular": first non-empty wins.
    repeated = [(n, idx) for n, idx in indexes.items() if len(idx) > 1]
    first = [idx[0] for idx in indexes.values()]
    needed = max(first) + 1
    pick = operator.itemgetter(*first)  # a tuple: the header has at least the required columns
    strip = str.strip
    rows: list[RawRow] = []
    consumed = 0
    try:
        # The hot loop of a 200k-row upload: C-level zip/map/itemgetter, no per-cell Python.
        for cells in reader:
            start = line_offset + consumed + 1
            consumed = reader.line_num
            if not any(cells):
                continue
            size = len(cells)
            if size >= needed:
                fields = dict(zip(names, map(strip, pick(cells)), strict=True))
            else:
                fields = {
                    n: cells[i].strip() if i < size else ""
                    for n, i in zip(names, first, strict=True)
                }
            for name, idx in repeated:
                fields[name] = next((v for i in idx if i < size and (v := cells[i].strip())), "")
            extra: tuple[str, ...] = ()
            if size > width and any(cells[width:]):
                extra = tuple(v for v in map(strip, cells[width:]) if v)
            if not extra and not any(fields.values()) and not "".join(cells).strip():
                continue  # only separators and spaces, as Excel leaves after the data
            rows.append(RawRow(start, fields, extra))
    except csv.Error as exc:
        raise NotACarteiraCsv(
            "malformed", f"linha {line_offset + consumed + 1}: {_malformed_reason(exc)}"
        ) from exc
    return rows


def _malformed_reason(error: csv.Error) -> str:
    """The csv module's complaint, said to the person who exported the file."""
    text = str(error)
    if "unexpected end of data" in text:
        return (
            'uma aspa (") aberta nesta linha não se fecha até o fim do arquivo; feche as '
            "aspas do valor ou retire-as"
        )
    if "expected after" in text:
        return (
            "há texto depois de um valor entre aspas; um valor entre aspas deve terminar no "
            'separador (use "" para uma aspa dentro dele)'
        )
    return "o CSV está malformado (provavelmente aspas sem fechamento)"


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Hundreds of thousands of new dicts set off repeated full collections that find no
    cycles in them; pausing the collector makes a big upload about a third faster."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_carteira(data: bytes) -> CarteiraFile:
    """Parse an uploaded carteira. Raises NotACarteiraCsv when it is not one at all."""
    if not data.strip() or data == _UTF8_BOM:
        raise NotACarteiraCsv("empty", "o arquivo está vazio")
    text, encoding = _decode(data)
    if not text.strip():
        raise NotACarteiraCsv("empty", "o arquivo está vazio")
    # newline="" keeps quoted line breaks intact for the csv module, and splits \r\n, \n, \r.
    stream = io.StringIO(text, newline="")
    scanned: list[str] = []
    header = _find_header(iter(stream.readline, ""), scanned)
    # The stream goes on after the lines the header search read; those few are fed back first.
    records = itertools.chain(scanned[header.line_index + 1 :], stream)
    with _gc_paused():
        rows = _read_rows(records, header, header.line_index + 1)
    if not rows:
        raise NotACarteiraCsv("no_rows", "o arquivo tem cabeçalho, mas nenhuma linha de dados")
    ignored = [
        c.strip()
        for c, k in zip(header.cells, header.canonical, strict=True)
        if c.strip() and k is None
    ]
    return CarteiraFile(
        encoding=encoding,
        delimiter=header.delimiter,
        columns=header.found,
        rows=rows,
        ignored_columns=ignored,
        header_line=header.line_index + 1,
    )
