"""The FEBRABAN CNAB 240 "retorno de cobrança": the file a bank sends back about its boletos
(entries confirmed, payments, write-offs, fees), read into typed movements.

Layout: FEBRABAN 240 posições, v10.x. A file is a file header (record type "0"), batches
(batch header "1", detail records "3", batch trailer "5") and a file trailer ("9"). In a
cobrança return each boleto movement is a pair of detail records: segment T (the title: nosso
número, due date, amount, payer) followed by segment U (the money: paid, charges, discount,
credit date). Positions below are 1-based and inclusive, as the manual states them.

Banks follow the standard in segment U, but not all in segment T: Santander (033) lays out its
own segment T (nosso número at 41-53, vencimento at 70-77, valor at 78-92...: its "Layout
Padrão 240" H7815, v2.5), and Itaú (341) uses 222-223 for the código de liquidação. `T_LAYOUTS`
has these, and `liquidation_codes` each bank's códigos de movimento that mean a payment (Itaú's
"17" is a rejected change, its "08" a liquidation at the notary's; Caixa's "46" is an on-line
notice that may be reversed by a "47").

`parse_cnab240` never drops a line silently: a line it cannot read (wrong length, unknown
record type, a U without its T, a bad date or number, counts that do not add up) becomes a
pt-BR message in `Cnab240File.problems`, naming the line, and reading goes on. Only a file that
is not CNAB 240 at all raises `NotACnab240File`. What shows the file is not whole as the bank
wrote it (a record cut short: shorter than 240 columns where what it lacks must hold data,
see `_REQUIRED_UP_TO`; a record longer than 240 with data past them; a batch or the file
without its trailer, counts that do not add up, lines after the file's trailer) is also in
`Cnab240File.defects`, with its rule: a file cut short or edited, which nothing should be
applied from. A record whose trailing blanks were stripped in transit is read whole.

Decoding is the caller's job: banks send Latin-1 (or plain ASCII) text. `write_cnab240_return`
writes a valid return file, for tests and demos.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

__all__ = [
    "LIQUIDATION_CODES",
    "MOVEMENT_DESCRIPTIONS",
    "RECORD_LENGTH",
    "T_LAYOUTS",
    "Cnab240Defect",
    "Cnab240File",
    "Cnab240Movement",
    "NotACnab240File",
    "ReturnPayment",
    "SegmentTLayout",
    "liquidation_codes",
    "movement_description",
    "parse_cnab240",
    "write_cnab240_return",
]

RECORD_LENGTH = 240

# Códigos de movimento retorno that mean the boleto was paid, in the FEBRABAN table: "06"
# liquidação, "17" liquidação após baixa ou de título não registrado.
LIQUIDATION_CODES: frozenset[str] = frozenset({"06", "17"})

# Banks whose table differs. Itaú (its "Cobrança FEBRABAN 240", nota 22): "06" liquidação
# normal, "08" liquidação em cartório, and "17" is "alteração/exclusão de dados rejeitada".
# Caixa (SIGCB CNAB 240, nota C044): "06" liquidação; no "17"; "46" liquidação on-line is
# a notice that a "47" may reverse, so only "06" settles.
_BANK_LIQUIDATION_CODES: dict[str, frozenset[str]] = {
    "104": frozenset({"06"}),
    "341": frozenset({"06", "08"}),
}

_BANK_MOVEMENT_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "104": {
        "44": "Estorno de baixa/liquidação",
        "46": "Liquidação on-line",
        "47": "Estorno de liquidação on-line",
    },
    "341": {
        "08": "Liquidação em cartório",
        "10": "Baixa por ter sido liquidado",
        "17": "Alteração/exclusão de dados rejeitada",
    },
}


def liquidation_codes(bank_code: str) -> frozenset[str]:
    """The códigos de movimento retorno by which `bank_code` says a boleto was paid."""
    return _BANK_LIQUIDATION_CODES.get(bank_code, LIQUIDATION_CODES)


def movement_description(bank_code: str, movement_code: str) -> str:
    """What `movement_code` means in `bank_code`'s returns (pt-BR)."""
    bank = _BANK_MOVEMENT_DESCRIPTIONS.get(bank_code, {})
    return bank.get(movement_code) or MOVEMENT_DESCRIPTIONS.get(
        movement_code, f"Código de movimento {movement_code}"
    )


Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class SegmentTLayout:
    """Where a bank writes the segment T fields this module reads (1-based, inclusive).
    The defaults are FEBRABAN's (v10.x), which Banco do Brasil, Bradesco, Caixa, Itaú, Sicredi
    and Sicoob follow."""

    agency: Span = (18, 22)
    account: Span = (24, 35)
    nosso_numero: Span = (38, 57)
    carteira: Span = (58, 58)
    seu_numero: Span = (59, 73)
    due_date: Span = (74, 81)
    title_amount: Span = (82, 96)
    collecting_bank: Span = (97, 99)
    company_use: Span = (106, 130)
    payer_kind: Span = (133, 133)
    payer_document: Span = (134, 148)
    payer_name: Span = (149, 188)
    fee: Span = (199, 213)
    reasons: Span = (214, 223)


FEBRABAN_T = SegmentTLayout()

T_LAYOUTS: dict[str, SegmentTLayout] = {
    # Santander's "Layout Padrão 240" (H7815) v2.5, segmento T retorno: agência 18-21 (DV 22),
    # conta 23-31 (DV 32), 33-40 reserved, nosso número with its DV 41-53, carteira 54, and
    # everything after it 4 or 5 columns before FEBRABAN's. brcobranca's and laravel-boleto's
    # Santander readers use these positions, and their sample returns have the fields there.
    "033": SegmentTLayout(
        agency=(18, 21),
        account=(23, 31),
        nosso_numero=(41, 53),
        carteira=(54, 54),
        seu_numero=(55, 69),
        due_date=(70, 77),
        title_amount=(78, 92),
        collecting_bank=(93, 95),
        company_use=(101, 125),
        payer_kind=(128, 128),
        payer_document=(129, 143),
        payer_name=(144, 183),
        fee=(194, 208),
        reasons=(209, 218),
    ),
    # Itaú's "Cobrança FEBRABAN 240": up to four error codes at 214-221; 222-223 is the
    # código de liquidação (the channel it was paid by), not a reason.
    "341": SegmentTLayout(reasons=(214, 221)),
}


def _t_layout(bank_code: str) -> SegmentTLayout:
    return T_LAYOUTS.get(bank_code, FEBRABAN_T)


# The common códigos de movimento retorno of the FEBRABAN table; banks add their own.
MOVEMENT_DESCRIPTIONS: dict[str, str] = {
    "02": "Entrada confirmada",
    "03": "Entrada rejeitada",
    "06": "Liquidação",
    "09": "Baixa",
    "12": "Confirmação de recebimento de instrução de abatimento",
    "13": "Confirmação de recebimento de instrução de cancelamento de abatimento",
    "14": "Confirmação de recebimento de instrução de alteração de vencimento",
    "17": "Liquidação após baixa ou liquidação de título não registrado",
    "19": "Confirmação de recebimento de instrução de protesto",
    "20": "Confirmação de recebimento de instrução de sustação/cancelamento de protesto",
    "23": "Remessa a cartório",
    "25": "Protestado e baixado",
    "26": "Instrução rejeitada",
    "28": "Débito de tarifas/custas",
}

# Header de arquivo, header de lote, detalhe, trailer de lote, trailer de arquivo.
_RECORD_TYPES = frozenset("01359")

# A line shorter than 240 columns lost its trailing blanks (editors, e-mail clients, FTP in
# ASCII mode and copy-and-paste strip them) or was cut. Stripping removes blanks only, so a
# line is read, padded back to 240, when what it lacks holds no field that must carry data:
# every field of FEBRABAN's layout (v10.x) from the column after the one below to the end is
# "uso exclusivo FEBRABAN/CNAB" (brancos), reserved to the bank or the company, text left
# blank when there is nothing to say (motivos, aviso), or a numeric field that banks' own
# returns leave blank (the samples in tests/fixtures/cnab240: Santander's densidade and data do
# crédito, Santander's and Caixa's conciliation count, Banco do Brasil's and Santander's
# correspondent's nosso número). A line that ends before that column, or inside one of those
# numeric fields (`_NUMERIC_AFTER`), lost data, not blanks: it is a `record_length` defect.
# Per record (kind, its last column that must hold data, the
# field there):
_REQUIRED_UP_TO: dict[str, tuple[int, str]] = {
    # Header de arquivo: 164-166 versão do layout; then 167-171 densidade, 172-191 reservado
    # ao banco, 192-211 reservado à empresa, 212-240 brancos.
    "0": (166, "versão do layout do arquivo"),
    # Header de lote: 184-191 número do retorno, 192-199 data de gravação; then 200-207 data
    # do crédito, 208-240 brancos.
    "1": (199, "data de gravação do retorno"),
    # Segmento T: up to the valor da tarifa (199-213, Santander's 194-208: see `_t_layout`);
    # then the motivos de ocorrência (text) and brancos.
    "3T": (213, "valor da tarifa"),
    # Segmento U: 138-145 data da ocorrência, 146-153 data do crédito, 158-165 and 166-180
    # the pagador's occurrence, 181-210 its complement, 211-213 the correspondent bank; then
    # 214-233 the correspondent's nosso número and 234-240 brancos.
    "3U": (213, "código do banco correspondente"),
    # Other segments: only their letter is read (they are reported and ignored).
    "3": (14, "segmento"),
    # Trailer de lote: 18-23 quantidade de registros, then the counts and totals of each
    # kind of cobrança up to 99-115; then 116-123 número do aviso (text) and brancos.
    "5": (115, "totais do lote"),
    # Trailer de arquivo: 18-23 lotes, 24-29 registros; then 30-35 contas para conciliação
    # and brancos.
    "9": (29, "quantidade de registros do arquivo"),
}


# The numeric fields after that column (which a bank may leave blank, but fills with digits,
# zeros if nothing, when it writes them): a line that ends inside one was cut in the middle
# of its digits, which no stripping of blanks does.
_NUMERIC_AFTER: dict[str, tuple[tuple[int, int], ...]] = {
    "0": ((167, 171),),  # densidade de gravação
    "1": ((200, 207),),  # data do crédito
    "3U": ((214, 233),),  # nosso número no banco correspondente
    "9": ((30, 35),),  # quantidade de contas para conciliação
}


def _cut_inside_a_number(line: str) -> bool:
    """The line ends before the end of one of those numbers, after some of its digits."""
    written = len(line.rstrip(" "))
    return any(
        start <= written and len(line) < end for start, end in _NUMERIC_AFTER.get(_kind(line), ())
    )


def _required_up_to(line: str) -> int:
    """The last column of `line`'s record (by its type, and segment) that must hold data."""
    kind = _kind(line)
    if kind == "3T":
        return _t_layout(line[0:3]).fee[1]
    required = _REQUIRED_UP_TO.get(kind) or _REQUIRED_UP_TO.get(kind[:1])
    return required[0] if required is not None else RECORD_LENGTH


class NotACnab240File(ValueError):
    """The file as a whole is not a CNAB 240 return (empty, CNAB 400, a remessa, not a bank
    file at all); `message` is for the person who sent it (pt-BR)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True, kw_only=True)
class Cnab240Movement:
    """One boleto movement: a segment T and its segment U, combined.

    Amounts are in centavos. `nosso_numero_raw` is positions 38-57 as the bank wrote them
    (what `boleto.nosso_numero_from_segment_t` reads); `nosso_numero` is the digits of the
    bank's nosso número field (38-57, Santander's 41-53) without leading zeros; whether its
    last digit is a check digit, and how the bank lays the field out, is bank-specific and left
    to the caller, who has the raw text. `payer_document` is the CPF (11 digits) or CNPJ (14
    digits) with its leading zeros, "" when absent. `reasons` are the motivos de ocorrência
    (positions 214-223, Santander's 209-218, Itaú's 214-221), blanks and "00" left out.
    `line` is the file line of the segment T, `sequence` its número sequencial no lote.
    """

    bank_code: str
    batch: int
    sequence: int
    line: int
    movement_code: str
    nosso_numero: str
    nosso_numero_raw: str
    seu_numero: str
    carteira: str
    agency: str
    account: str
    due_date: date | None
    title_amount_cents: int
    paid_amount_cents: int
    charges_cents: int
    discount_cents: int
    rebate_cents: int
    iof_cents: int
    net_amount_cents: int
    other_expenses_cents: int
    other_credits_cents: int
    fee_cents: int
    occurrence_date: date | None
    credit_date: date | None
    collecting_bank: str
    company_use: str
    payer_document: str
    payer_name: str
    reasons: tuple[str, ...]

    @property
    def is_liquidation(self) -> bool:
        """The boleto was paid: "06" liquidação or "17" liquidação após baixa ou de título não
        registrado, or the bank's own codes (`liquidation_codes`)."""
        return self.movement_code in liquidation_codes(self.bank_code)

    @property
    def movement_description(self) -> str:
        return movement_description(self.bank_code, self.movement_code)


@dataclass(frozen=True, slots=True)
class Cnab240Defect:
    """Why the file is not whole as the bank wrote it, at `line`: `rule` is `record_length`
    (a record cut short, or longer than 240 columns with data past them), `truncated` (a batch
    or the file without its trailer), `trailer_count` (a trailer's counts do not add up, or
    cannot be read) or `after_trailer` (lines after the file's trailer); `message` in pt-BR,
    without the line."""

    line: int
    rule: str
    message: str


@dataclass(frozen=True, slots=True)
class Cnab240File:
    bank_code: str
    bank_name: str
    company_name: str
    generated_on: date | None
    file_sequence: int | None
    movements: list[Cnab240Movement]
    problems: list[str]
    defects: list[Cnab240Defect] = field(default_factory=list)

    @property
    def liquidations(self) -> list[Cnab240Movement]:
        return [movement for movement in self.movements if movement.is_liquidation]


@dataclass(frozen=True, slots=True)
class ReturnPayment:
    """What `write_cnab240_return` writes as one T+U pair."""

    nosso_numero: str
    amount_cents: int
    paid_cents: int
    due_date: date
    paid_on: date
    credited_on: date | None = None
    seu_numero: str = ""
    payer_document: str = ""
    payer_name: str = ""
    movement_code: str = "06"
    agency: str = "1234"
    account: str = "12345"


# --- reading ------------------------------------------------------------------------------


def _is_digits(text: str) -> bool:
    # str.isdigit alone would take "²" and other non-ASCII digits, which int() refuses.
    return text.isascii() and text.isdigit()


def _significant_digits(text: str) -> str:
    """'000123' -> '123', '00000' -> '0'; text that is not all digits comes back stripped."""
    stripped = text.strip()
    return str(int(stripped)) if _is_digits(stripped) else stripped


class _Fields:
    """Reads fields of one record by manual positions, collecting what is wrong with them."""

    def __init__(self, record: str) -> None:
        self.record = record
        self.errors: list[str] = []

    def text(self, start: int, end: int) -> str:
        return self.record[start - 1 : end]

    def integer(self, label: str, start: int, end: int) -> int:
        raw = self.text(start, end)
        if _is_digits(raw):
            return int(raw)
        self.errors.append(f"{label} (posições {start}-{end}) não é numérico: '{raw}'")
        return 0

    def amount(self, label: str, start: int, end: int) -> int:
        """13 integer digits and 2 decimals: centavos."""
        raw = self.text(start, end)
        if not raw.strip():
            return 0  # some banks leave the value fields they do not use blank
        return self.integer(label, start, end)

    def day(self, label: str, start: int, end: int) -> date | None:
        """DDMMAAAA; zeros or blanks: no date."""
        raw = self.text(start, end)
        if raw == "00000000" or not raw.strip():
            return None
        if len(raw) == 8 and _is_digits(raw):
            # A day that does not exist (31/02) is reported below, like any other bad date.
            with contextlib.suppress(ValueError):
                return date(int(raw[4:]), int(raw[2:4]), int(raw[:2]))
        self.errors.append(f"{label} (posições {start}-{end}) não é uma data DDMMAAAA: '{raw}'")
        return None


@dataclass(frozen=True, slots=True)
class _SegmentT:
    line: int
    batch: int
    sequence: int
    movement_code: str
    agency: str
    account: str
    nosso_numero_raw: str
    nosso_numero_field: str
    carteira: str
    seu_numero: str
    due_date: date | None
    title_amount_cents: int
    collecting_bank: str
    company_use: str
    payer_document: str
    payer_name: str
    fee_cents: int
    reasons: tuple[str, ...]


def _payer_document(fields: _Fields, layout: SegmentTLayout) -> str:
    kind = fields.text(*layout.payer_kind)
    start, end = layout.payer_document
    raw = fields.text(start, end).strip()
    if not raw.strip("0"):
        return ""
    if not _is_digits(raw):
        fields.errors.append(
            f"documento do pagador (posições {start}-{end}) não é numérico: '{raw}'"
        )
        return ""
    significant = raw.lstrip("0")
    width = {"1": 11, "2": 14}.get(kind)  # 1: CPF, 2: CNPJ
    if width is None or len(significant) > width:
        return significant
    return significant.zfill(width)


def _segment_t(
    fields: _Fields, line: int, batch: int, sequence: int, layout: SegmentTLayout
) -> _SegmentT:
    start, end = layout.reasons
    motivos = fields.text(start, end)
    reasons = tuple(
        code
        for code in (motivos[i : i + 2].strip() for i in range(0, end - start + 1, 2))
        if code.strip("0")
    )
    return _SegmentT(
        line=line,
        batch=batch,
        sequence=sequence,
        movement_code=fields.text(16, 17),
        agency=_significant_digits(fields.text(*layout.agency)),
        account=_significant_digits(fields.text(*layout.account)),
        nosso_numero_raw=fields.text(38, 57),
        nosso_numero_field=fields.text(*layout.nosso_numero),
        carteira=fields.text(*layout.carteira).strip(),
        seu_numero=fields.text(*layout.seu_numero).strip(),
        due_date=fields.day("vencimento", *layout.due_date),
        title_amount_cents=fields.amount("valor nominal do título", *layout.title_amount),
        collecting_bank=fields.text(*layout.collecting_bank).strip(),
        company_use=fields.text(*layout.company_use).strip(),
        payer_document=_payer_document(fields, layout),
        payer_name=fields.text(*layout.payer_name).strip(),
        fee_cents=fields.amount("valor da tarifa", *layout.fee),
        reasons=reasons,
    )


def _movement(bank_code: str, t: _SegmentT, u: _Fields) -> Cnab240Movement:
    return Cnab240Movement(
        bank_code=bank_code,
        batch=t.batch,
        sequence=t.sequence,
        line=t.line,
        movement_code=t.movement_code,
        nosso_numero="".join(c for c in t.nosso_numero_field if _is_digits(c)).lstrip("0"),
        nosso_numero_raw=t.nosso_numero_raw,
        seu_numero=t.seu_numero,
        carteira=t.carteira,
        agency=t.agency,
        account=t.account,
        due_date=t.due_date,
        title_amount_cents=t.title_amount_cents,
        charges_cents=u.amount("juros/multa/encargos", 18, 32),
        discount_cents=u.amount("valor do desconto", 33, 47),
        rebate_cents=u.amount("valor do abatimento", 48, 62),
        iof_cents=u.amount("valor do IOF", 63, 77),
        paid_amount_cents=u.amount("valor pago", 78, 92),
        net_amount_cents=u.amount("valor líquido", 93, 107),
        other_expenses_cents=u.amount("outras despesas", 108, 122),
        other_credits_cents=u.amount("outros créditos", 123, 137),
        occurrence_date=u.day("data da ocorrência", 138, 145),
        credit_date=u.day("data do crédito", 146, 153),
        fee_cents=t.fee_cents,
        collecting_bank=t.collecting_bank,
        company_use=t.company_use,
        payer_document=t.payer_document,
        payer_name=t.payer_name,
        reasons=t.reasons,
    )


def _split_lines(text: str) -> list[str]:
    """Lines without their CRLF/LF ends and without the blank lines (or DOS end-of-file
    mark) after the last record. Splitting on "\\n" only: str.splitlines would also split on
    characters such as "\\x85" and "\\x1c", which a Latin-1 decoded file may hold in a text
    field."""
    text = text.removeprefix("\ufeff")
    separator = "\n" if "\n" in text or "\r" not in text else "\r"  # "\r" alone: old Mac
    lines = [line.removesuffix("\r") for line in text.split(separator)]
    while lines and not lines[-1].replace("\x1a", "").strip():
        lines.pop()
    return lines


def _kind(line: str) -> str:
    record_type = line[7:8]
    return record_type + line[13:14] if record_type == "3" else record_type


def _fit(line: str) -> tuple[str | None, str]:
    """(the 240-column record, "") or (None, what is wrong with its length): blanks after the
    240th column are let go, and a shorter line is padded back to 240 when what it lacks can
    only have been blanks (`_REQUIRED_UP_TO`)."""
    if len(line) > RECORD_LENGTH:
        if not line[RECORD_LENGTH:].strip(" "):
            return line[:RECORD_LENGTH], ""
        return None, f"tem {len(line)} colunas; o registro CNAB 240 tem {RECORD_LENGTH}"
    if len(line) < max(_required_up_to(line), 8) or _cut_inside_a_number(line):
        return None, f"tem só {len(line)} colunas; o registro CNAB 240 tem {RECORD_LENGTH}"
    return line.ljust(RECORD_LENGTH), ""


def _file_header(lines: list[str]) -> str:
    if not lines or not "".join(lines).strip():
        raise NotACnab240File("O arquivo está vazio.")
    first = lines[0]
    if len(first.rstrip(" ")) == 400 or first.startswith(("02RETORNO", "01REMESSA")):
        raise NotACnab240File(
            "O arquivo parece ser CNAB 400 (linhas de 400 colunas), não CNAB 240."
        )
    record, _ = _fit(first)
    if record is None:
        raise NotACnab240File(
            f"A primeira linha tem {len(first)} colunas; um arquivo CNAB 240 tem linhas de "
            f"{RECORD_LENGTH} colunas."
        )
    if not (_is_digits(record[0:3]) and record[3:7] == "0000" and record[7] == "0"):
        raise NotACnab240File(
            "A primeira linha não é um header de arquivo CNAB 240 (registro tipo 0 do lote "
            "0000, com o código do banco nas posições 1-3)."
        )
    if record[142] == "1":
        raise NotACnab240File(
            "É um arquivo de remessa (código 1 na posição 143), não um retorno de cobrança."
        )
    return record


class _Reader:
    def __init__(self, header: str) -> None:
        fields = _Fields(header)
        self.bank_code = fields.text(1, 3)
        self.company_name = fields.text(73, 102).strip()
        self.bank_name = fields.text(103, 132).strip()
        self.generated_on = fields.day("data de geração do arquivo", 144, 151)
        nsa = fields.text(158, 163)
        self.file_sequence = int(nsa) if _is_digits(nsa) else None
        if self.file_sequence is None:
            fields.errors.append(
                f"número sequencial do arquivo (posições 158-163) não é numérico: '{nsa}'"
            )
        # (line, message); sorted by line at the end, as a T without its U is only found
        # out on a later line.
        self.problems: list[tuple[int, str]] = [(1, error) for error in fields.errors]
        self.defects: list[Cnab240Defect] = []
        if fields.text(143, 143) != "2":
            self.problem(
                1,
                f"código remessa/retorno (posição 143) é '{fields.text(143, 143)}'; num retorno "
                "é '2'",
            )
        self.movements: list[Cnab240Movement] = []
        self.records = 1
        self.batches = 0
        # The open batch: (number, line of its header, records so far), or None.
        self.batch: tuple[int, int, int] | None = None
        self.pending_t: _SegmentT | None = None
        self.rejected_t_line: int | None = None
        self.trailer_line: int | None = None

    def problem(self, line: int, message: str) -> None:
        self.problems.append((line, message))

    def defect(self, line: int, rule: str, message: str) -> None:
        """A problem that shows the file is not whole as the bank wrote it."""
        self.problem(line, message)
        self.defects.append(Cnab240Defect(line, rule, message))

    def count_in_batch(self) -> None:
        if self.batch is not None:
            number, header_line, records = self.batch
            self.batch = (number, header_line, records + 1)

    def flush_t(self) -> None:
        t = self.pending_t
        if t is not None:
            self.problem(
                t.line,
                f"segmento T (nosso número '{t.nosso_numero_raw.strip()}') sem o segmento U que "
                "deveria segui-lo; movimento ignorado",
            )
        self.pending_t = None

    def read(self, number: int, line: str) -> None:
        if self.trailer_line is not None:
            self.defect(
                number,
                "after_trailer",
                f"linha depois do trailer do arquivo (linha {self.trailer_line}); ignorada",
            )
            return
        if not line.strip():
            self.problem(number, "linha em branco no meio do arquivo")
            return
        self.records += 1
        record, length_problem = _fit(line)
        if record is None:
            self.count_in_batch()
            self.defect(number, "record_length", length_problem)
            return
        record_type = record[7]
        if record_type not in _RECORD_TYPES:
            self.count_in_batch()
            self.problem(
                number,
                f"tipo de registro '{record_type}' (posição 8) desconhecido; esperado 0, 1, 3, "
                "5 ou 9",
            )
            return
        if record[0:3] != self.bank_code:
            self.problem(
                number,
                f"código do banco '{record[0:3]}' (posições 1-3) difere do header do arquivo "
                f"('{self.bank_code}')",
            )
        if record_type == "0":
            self.problem(number, "header de arquivo repetido; ignorado")
        elif record_type == "1":
            self.batch_header(number, record)
        elif record_type == "3":
            self.count_in_batch()
            self.detail(number, record)
        elif record_type == "5":
            self.batch_trailer(number, record)
        else:
            self.file_trailer(number, record)

    def batch_header(self, number: int, record: str) -> None:
        self.flush_t()
        if self.batch is not None:
            self.defect(self.batch[1], "truncated", f"lote {self.batch[0]} sem trailer de lote")
        fields = _Fields(record)
        batch = fields.integer("número do lote", 4, 7)
        for error in fields.errors:
            self.problem(number, error)
        self.batches += 1
        self.batch = (batch, number, 1)

    def batch_trailer(self, number: int, record: str) -> None:
        self.flush_t()
        if self.batch is None:
            self.defect(number, "trailer_count", "trailer de lote sem header de lote")
            return
        self.count_in_batch()
        batch, header_line, records = self.batch
        self.batch = None
        fields = _Fields(record)
        trailer_batch = fields.integer("número do lote", 4, 7)
        declared = fields.integer("quantidade de registros do lote", 18, 23)
        for error in fields.errors:
            self.defect(number, "trailer_count", error)
        if fields.errors:
            return
        if trailer_batch != batch:
            self.defect(
                number,
                "trailer_count",
                f"trailer do lote {trailer_batch}, mas o lote aberto é o {batch}",
            )
        # Santander's manual (nota 37) counts the batch header and trailer too, as FEBRABAN
        # does, but the Santander returns kept by brcobranca (spec/arquivos/CNAB240SANTANDER.RET)
        # and laravel-boleto (tests/Retorno/files/cnab240/santander.ret) count the details only.
        santander_details = self.bank_code == "033" and declared == records - 2
        if declared != records and not santander_details:
            self.defect(
                number,
                "trailer_count",
                f"o trailer do lote {batch} declara {declared} registros, mas o lote (linhas "
                f"{header_line}-{number}) tem {records}",
            )

    def file_trailer(self, number: int, record: str) -> None:
        self.flush_t()
        if self.batch is not None:
            self.defect(self.batch[1], "truncated", f"lote {self.batch[0]} sem trailer de lote")
            self.batch = None
        self.trailer_line = number
        fields = _Fields(record)
        batches = fields.integer("quantidade de lotes do arquivo", 18, 23)
        records = fields.integer("quantidade de registros do arquivo", 24, 29)
        for error in fields.errors:
            self.defect(number, "trailer_count", error)
        if fields.errors:
            return
        if batches != self.batches:
            self.defect(
                number,
                "trailer_count",
                f"o trailer do arquivo declara {batches} lotes, mas o arquivo tem {self.batches}",
            )
        if records != self.records:
            self.defect(
                number,
                "trailer_count",
                f"o trailer do arquivo declara {records} registros, mas o arquivo tem "
                f"{self.records}",
            )

    def detail(self, number: int, record: str) -> None:
        fields = _Fields(record)
        batch = fields.integer("número do lote", 4, 7)
        sequence = fields.integer("número sequencial do registro no lote", 9, 13)
        segment = record[13]
        if fields.errors:
            if segment == "T":
                self.flush_t()
                self.rejected_t_line = number
            self.problem(number, f"segmento {segment} ignorado: " + "; ".join(fields.errors))
            return
        if self.batch is None:
            self.problem(number, "registro de detalhe fora de um lote (sem header de lote antes)")
        elif batch != self.batch[0]:
            self.problem(number, f"registro do lote {batch}, mas o lote aberto é o {self.batch[0]}")
        if segment == "T":
            self.flush_t()
            t = _segment_t(fields, number, batch, sequence, _t_layout(self.bank_code))
            if fields.errors:
                self.rejected_t_line = number
                self.problem(
                    number,
                    "segmento T ignorado, e com ele o movimento: " + "; ".join(fields.errors),
                )
            else:
                self.pending_t = t
        elif segment == "U":
            self.segment_u(number, fields, batch, sequence)
        else:
            self.flush_t()
            self.problem(
                number,
                f"segmento '{segment}' (posição 14) ignorado: o retorno de cobrança é lido "
                "dos segmentos T e U",
            )

    def segment_u(self, number: int, fields: _Fields, batch: int, sequence: int) -> None:
        t, self.pending_t = self.pending_t, None
        rejected_t_line, self.rejected_t_line = self.rejected_t_line, None
        if t is None:
            if rejected_t_line == number - 1:
                self.problem(
                    number,
                    f"segmento U ignorado: o segmento T da linha {rejected_t_line} foi rejeitado",
                )
            else:
                self.problem(number, "segmento U sem o segmento T que deveria precedê-lo")
            return
        if (batch, sequence) != (t.batch, t.sequence + 1):
            self.pending_t = t
            self.flush_t()
            self.problem(
                number,
                f"segmento U (lote {batch}, registro {sequence}) não é o par do segmento T da "
                f"linha {t.line} (lote {t.batch}, registro {t.sequence}); ignorado",
            )
            return
        movement = _movement(self.bank_code, t, fields)
        if fields.text(16, 17) != t.movement_code:
            fields.errors.append(
                f"código de movimento '{fields.text(16, 17)}' difere do segmento T da linha "
                f"{t.line} ('{t.movement_code}')"
            )
        if fields.errors:
            self.problem(
                number,
                f"segmento U ignorado, e com ele o movimento do segmento T da linha {t.line}: "
                + "; ".join(fields.errors),
            )
            return
        self.movements.append(movement)

    def finish(self, last_line: int) -> Cnab240File:
        self.flush_t()
        if self.batch is not None:
            self.defect(self.batch[1], "truncated", f"lote {self.batch[0]} sem trailer de lote")
        if self.trailer_line is None:
            self.defect(
                last_line,
                "truncated",
                "o arquivo termina sem trailer de arquivo (registro tipo 9): pode estar incompleto",
            )
        return Cnab240File(
            bank_code=self.bank_code,
            bank_name=self.bank_name,
            company_name=self.company_name,
            generated_on=self.generated_on,
            file_sequence=self.file_sequence,
            movements=self.movements,
            problems=[
                f"linha {line}: {message}"
                for line, message in sorted(self.problems, key=lambda problem: problem[0])
            ],
            defects=sorted(self.defects, key=lambda defect: defect.line),
        )


def parse_cnab240(text: str) -> Cnab240File:
    """Read a CNAB 240 cobrança return (already decoded text, CRLF or LF line ends).

    Raises `NotACnab240File` when the file as a whole is not one; anything wrong with single
    lines goes to `problems`, and the rest of the file is read.
    """
    lines = _split_lines(text)
    reader = _Reader(_file_header(lines))
    for number, line in enumerate(lines[1:], start=2):
        reader.read(number, line)
    return reader.finish(len(lines))


# --- writing ------------------------------------------------------------------------------

# Layout version numbers written in the headers. Banks write their own (081/040, 050/030,
# ...); the reader does not look at them.
_FILE_LAYOUT_VERSION = "103"
_BATCH_LAYOUT_VERSION = "060"

_BANK_NAMES = {
    "001": "BANCO DO BRASIL S.A.",
    "033": "BANCO SANTANDER",
    "104": "CAIXA ECONOMICA FEDERAL",
    "237": "BRADESCO",
    "341": "BANCO ITAU S.A.",
    "748": "SICREDI",
    "756": "SICOOB",
}


def _ascii_upper(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii").upper()
    return "".join(c if " " <= c <= "~" else " " for c in ascii_text)


class _Record:
    """240 columns, blank until fields are put at their manual positions."""

    def __init__(self) -> None:
        self._columns = [" "] * RECORD_LENGTH

    def put(self, start: int, end: int, value: str) -> None:
        if len(value) != end - start + 1:
            raise AssertionError(f"{value!r} does not fit positions {start}-{end}")
        self._columns[start - 1 : end] = value

    def number(self, start: int, end: int, value: int, label: str) -> None:
        width = end - start + 1
        if value < 0 or len(str(value)) > width:
            raise ValueError(f"{label}: {value} não cabe em {width} dígitos")
        self.put(start, end, str(value).zfill(width))

    def digits(self, start: int, end: int, value: str, label: str) -> None:
        width = end - start + 1
        if not _is_digits(value) or len(value) > width:
            raise ValueError(f"{label}: '{value}' não é um número de até {width} dígitos")
        self.put(start, end, value.zfill(width))

    def text(self, start: int, end: int, value: str) -> None:
        """Left-aligned, ASCII uppercase, cut at the field's width."""
        width = end - start + 1
        self.put(start, end, _ascii_upper(value)[:width].ljust(width))

    def day(self, start: int, end: int, value: date | None) -> None:
        """DDMMAAAA, zeros for no date."""
        text = "00000000" if value is None else f"{value.day:02d}{value.month:02d}{value.year:04d}"
        self.put(start, end, text)

    def __str__(self) -> str:
        return "".join(self._columns)


def _record(bank_code: str, batch: str, record_type: str) -> _Record:
    record = _Record()
    record.put(1, 3, bank_code)
    record.put(4, 7, batch)
    record.put(8, 8, record_type)
    return record


def _payer_document_fields(document: str) -> tuple[str, str]:
    """(tipo de inscrição, digits) for a CPF or CNPJ, punctuation allowed."""
    digits = "".join(c for c in document if c not in ".-/ ")
    if not digits:
        return "0", ""
    if not _is_digits(digits) or len(digits) not in (11, 14) or not digits.strip("0"):
        raise ValueError(f"documento do pagador: '{document}' não é um CPF nem um CNPJ")
    return ("1" if len(digits) == 11 else "2"), digits


def _pair(bank_code: str, sequence: int, payment: ReturnPayment) -> tuple[str, str]:
    code = payment.movement_code
    if len(code) != 2 or not _is_digits(code):
        raise ValueError(f"código de movimento: '{code}' não tem 2 dígitos")
    layout = _t_layout(bank_code)
    first, last = layout.nosso_numero
    width = last - first + 1
    nosso_numero = payment.nosso_numero
    if not _is_digits(nosso_numero) or len(nosso_numero) > width or not nosso_numero.strip("0"):
        raise ValueError(f"nosso número: '{nosso_numero}' não é um número de até {width} dígitos")
    document_type, document = _payer_document_fields(payment.payer_document)

    # Fields at the positions of the bank's segment T layout (FEBRABAN's but for Santander).
    t = _record(bank_code, "0001", "3")
    t.number(9, 13, sequence, "número sequencial do registro no lote")
    t.put(14, 14, "T")
    t.put(16, 17, code)
    t.digits(*layout.agency, payment.agency, "agência")
    # Check digits are bank-specific and not computed here: zeros.
    t.put(
        layout.agency[1] + 1,
        layout.account[0] - 1,
        "0" * (layout.account[0] - layout.agency[1] - 1),
    )
    t.digits(*layout.account, payment.account, "conta")
    t.put(layout.account[1] + 1, layout.account[1] + 1, "0")
    t.digits(first, last, nosso_numero, "nosso número")
    t.put(*layout.carteira, "1")  # carteira: cobrança simples
    t.text(*layout.seu_numero, payment.seu_numero)
    t.day(*layout.due_date, payment.due_date)
    t.number(*layout.title_amount, payment.amount_cents, "valor nominal do título")
    t.put(*layout.collecting_bank, bank_code)
    agency_end = layout.company_use[0] - 1  # agência cobradora and its DV
    t.put(layout.collecting_bank[1] + 1, agency_end, "0" * (agency_end - layout.collecting_bank[1]))
    t.put(layout.payer_kind[0] - 2, layout.payer_kind[0] - 1, "09")  # moeda: real
    t.put(*layout.payer_kind, document_type)
    t.digits(*layout.payer_document, document or "0", "documento do pagador")
    t.text(*layout.payer_name, payment.payer_name)
    t.number(*layout.fee, 0, "valor da tarifa")

    paid, amount = payment.paid_cents, payment.amount_cents
    liquidation = code in liquidation_codes(bank_code)
    u = _record(bank_code, "0001", "3")
    u.number(9, 13, sequence + 1, "número sequencial do registro no lote")
    u.put(14, 14, "U")
    u.put(16, 17, code)
    u.number(18, 32, max(paid - amount, 0) if liquidation else 0, "juros/multa/encargos")
    u.number(33, 47, max(amount - paid, 0) if liquidation else 0, "valor do desconto")
    u.number(48, 62, 0, "valor do abatimento")
    u.number(63, 77, 0, "valor do IOF")
    u.number(78, 92, paid, "valor pago")
    u.number(93, 107, paid, "valor líquido")
    u.number(108, 122, 0, "outras despesas")
    u.number(123, 137, 0, "outros créditos")
    u.day(138, 145, payment.paid_on)
    u.day(146, 153, payment.credited_on)
    u.put(154, 157, "0000")
    u.day(158, 165, None)
    u.number(166, 180, 0, "valor da ocorrência do pagador")
    u.put(211, 213, "000")
    return str(t), str(u)


def write_cnab240_return(
    *,
    bank_code: str,
    company_name: str,
    generated_on: date,
    payments: Sequence[ReturnPayment],
    file_sequence: int = 1,
) -> str:
    """A CNAB 240 cobrança return with one batch: a T+U pair per payment, CRLF line ends.

    Segment T follows the bank's layout (`T_LAYOUTS`: Santander's differs from FEBRABAN's).
    Check digits (agência, conta) are written as zeros: they are bank-specific. Liquidations
    (the bank's `liquidation_codes`) carry what was paid beyond the title amount as juros/multa
    and what was paid short of it as desconto. Text is written in ASCII uppercase and cut at
    its field's width; numbers that do not fit their field raise ValueError.
    """
    if len(bank_code) != 3 or not _is_digits(bank_code):
        raise ValueError(f"código do banco: '{bank_code}' não tem 3 dígitos")

    header = _record(bank_code, "0000", "0")
    header.put(18, 18, "0")  # tipo de inscrição da empresa: não informado
    header.put(19, 32, "0" * 14)
    header.put(53, 72, "0" * 20)  # agência, conta and their check digits
    header.text(73, 102, company_name)
    header.text(103, 132, _BANK_NAMES.get(bank_code, ""))
    header.put(143, 143, "2")  # retorno
    header.day(144, 151, generated_on)
    header.put(152, 157, "000000")
    header.number(158, 163, file_sequence, "número sequencial do arquivo")
    header.put(164, 166, _FILE_LAYOUT_VERSION)
    header.put(167, 171, "00000")

    batch_header = _record(bank_code, "0001", "1")
    batch_header.put(9, 9, "T")  # retorno
    batch_header.put(10, 11, "01")  # cobrança
    batch_header.put(14, 16, _BATCH_LAYOUT_VERSION)
    batch_header.put(18, 18, "0")
    batch_header.put(19, 33, "0" * 15)
    batch_header.put(54, 73, "0" * 20)
    batch_header.text(74, 103, company_name)
    batch_header.number(184, 191, file_sequence, "número remessa/retorno")
    batch_header.day(192, 199, generated_on)
    batch_header.day(200, 207, None)

    details: list[str] = []
    for index, payment in enumerate(payments):
        details.extend(_pair(bank_code, 2 * index + 1, payment))

    batch_trailer = _record(bank_code, "0001", "5")
    batch_trailer.number(18, 23, len(details) + 2, "quantidade de registros do lote")
    batch_trailer.number(24, 29, len(payments), "quantidade de títulos em cobrança simples")
    batch_trailer.number(
        30, 46, sum(payment.amount_cents for payment in payments), "valor total dos títulos"
    )
    batch_trailer.put(47, 115, "0" * 69)  # cobrança vinculada, caucionada, descontada

    trailer = _record(bank_code, "9999", "9")
    trailer.number(18, 23, 1, "quantidade de lotes do arquivo")
    trailer.number(24, 29, len(details) + 4, "quantidade de registros do arquivo")
    trailer.put(30, 35, "000000")

    records = [str(header), str(batch_header), *details, str(batch_trailer), str(trailer)]
    return "".join(record + "\r\n" for record in records)
