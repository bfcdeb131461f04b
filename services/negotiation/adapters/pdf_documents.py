"""The printed documents of an agreement, as PDF bytes (reportlab, A4, pt-BR).

- `invoice_pdf`: the boleto of one installment in the usual Brazilian shape: the "Recibo do
  Pagador" on top, a "Pague com PIX" section with the QR code of the installment's BR Code, and
  the "Ficha de Compensação" with the Interleaved 2 of 5 barcode of the 44-digit FEBRABAN code.
- `term_pdf`: the "Termo de Acordo" (confession and renegotiation of debt) the debtor accepted.
- `statement_pdf`: the "Demonstrativo de débito": a debtor's debts in collection updated to a
  date, each active agreement apart (what was agreed, paid and is left, the installments still
  to pay), and the total to pay.

Inputs are plain frozen dataclasses: everything is already computed and formatted for print
(documents masked, nosso número and linha digitável in their printed form); this module only
lays them out. Files are rendered with reportlab's `invariant` flag, so the same input gives the
same bytes (no creation date, a content-derived file id).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal
from xml.sax.saxutils import escape

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.common import I2of5
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors, units
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from contracts.money import format_brl

mm: float = units.mm  # points per millimetre

# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """The beneficiary (the agency/creditor) or the payer (the debtor) of a document."""

    name: str
    document: str  # already masked/formatted for print: "123.456.789-09", "12.345.678/0001-95"
    address: str = ""


@dataclass(frozen=True)
class InvoiceDocument:
    bank_code: str  # "237"
    bank_name: str
    beneficiary: Party
    payer: Party
    agency_account: str  # "1234 / 0012345"
    wallet: str  # "09"
    nosso_numero: str  # printed form, e.g. "09/00000000001-P"
    document_number: str  # e.g. agreement short id + "/" + installment number
    issue_date: date
    due_date: date
    amount_cents: int
    installment_label: str  # "Entrada", "Parcela 1 de 5" or "Parcela única" (contracts.invoices)
    digitable_line: str  # printed form with dots and spaces
    barcode: str  # 44 digits
    pix_code: str  # BR Code copy-and-paste text
    instructions: str
    creditor: str
    agreement_id: str


@dataclass(frozen=True)
class TermDebt:
    contract: str
    installment: str
    due_date: date
    principal_cents: int
    charges_cents: int  # penalty + interest + correction
    updated_value_cents: int
    days_overdue: int


@dataclass(frozen=True)
class TermInstallment:
    number: int
    label: str  # "Entrada" / "Parcela 1 de 5" / "Parcela única" (contracts.invoices)
    due_date: date
    amount_cents: int


@dataclass(frozen=True)
class AgreementTerm:
    agreement_id: str
    tenant_name: str  # the agency
    creditor: str
    debtor: Party
    closed_on: date
    channel: str  # "portal" | "chatbot" | "operator"
    operator: str | None
    debts: list[TermDebt]
    updated_value_cents: int
    principal_discount_cents: int
    charges_discount_cents: int
    total_cents: int
    installments: list[TermInstallment]
    break_first_days: int  # the agreement breaks when the first installment is this many days late
    break_later_days: int  # ... or any other installment is this many days late
    # An agreement no longer in force: the day it ended and why, in pt-BR ("o credor reduziu
    # o valor da dívida; ..."), printed as a mark above the terms and on every page (QA pass 9,
    # D5: an ended agreement's term still read as an agreement in force). `ended_on` None and
    # `ended_because` given: ended on a day not known.
    ended_on: date | None = None
    ended_because: str | None = None
    fulfilled_on: date | None = None  # paid off: "ACORDO QUITADO em ..."


@dataclass(frozen=True)
class StatementLine:
    creditor: str
    contract: str
    installment: str
    due_date: date
    days_overdue: int
    principal_cents: int
    penalty_cents: int
    interest_cents: int
    correction_cents: int
    updated_value_cents: int
    in_agreement: bool  # in an active agreement: paid by the agreement's installments


@dataclass(frozen=True)
class StatementInstallment:
    """An installment of an agreement still to pay (open or overdue), partly paid or not."""

    label: str  # "Entrada" / "Parcela 2 de 3" / "Parcela única" (contracts.invoices)
    due_date: date
    amount_cents: int
    paid_cents: int
    balance_cents: int
    overdue: bool


@dataclass(frozen=True)
class StatementAgreement:
    """An active agreement of the debtor: its debts are paid by its installments, at the
    values agreed, and are not in the statement's collection total."""

    agreement_id: str
    creditor: str
    closed_on: date
    debts: list[TermDebt]  # as on the agreement day
    updated_value_cents: int  # of its debts on the agreement day
    discount_cents: int
    total_cents: int  # agreed
    paid_cents: int  # paid so far
    due_cents: int  # still to pay: the balance of the installments below
    installments: list[StatementInstallment]


@dataclass(frozen=True)
class DebtStatement:
    tenant_name: str  # the agency
    debtor: Party
    as_of: date
    lines: list[StatementLine]  # debts in collection, not held by one of `agreements`
    total_updated_cents: int  # of `lines`
    agreements: list[StatementAgreement] = field(default_factory=list)

    @property
    def total_due_cents(self) -> int:
        """What the debtor has to pay: the debts in collection, updated, and what is left of
        each active agreement."""
        return self.total_updated_cents + sum(a.due_cents for a in self.agreements)


# --- small pt-BR formatting -------------------------------------------------------------------

_MONTHS_PT_BR = (
    "janeiro",
    "fevereiro",
    "março",
    "abril",
    "maio",
    "junho",
    "julho",
    "agosto",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
)

_CHANNELS_PT_BR = {
    "portal": "Portal de negociação",
    "chatbot": "ChatBot",
    "operator": "Atendente",
}


def _dmy(d: date) -> str:
    """25/11/2026."""
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"


def long_date_pt_br(d: date) -> str:
    """'25 de novembro de 2026' (own month table: no locale dependency)."""
    return f"{d.day} de {_MONTHS_PT_BR[d.month - 1]} de {d.year}"


def channel_pt_br(channel: str) -> str:
    """How the channel an agreement was closed in is called on paper; unknown ones as given."""
    return _CHANNELS_PT_BR.get(channel, channel)


def _sentence(text: str) -> str:
    """Text ending in a full stop (not two: names like "Banco S.A." already end in one)."""
    return text if text.endswith(".") else text + "."


def _days(n: int) -> str:
    return "1 dia" if n == 1 else f"{n} dias"


def _document_label(document: str) -> str:
    """'CPF' or 'CNPJ' by the shape of a formatted (possibly masked) document."""
    if "/" in document:
        return "CNPJ"
    bare = "".join(ch for ch in document if ch not in ".-/ ")
    if len(bare) == 11:
        return "CPF"
    if len(bare) == 14:
        return "CNPJ"
    return "CPF/CNPJ"


def bank_code_dv(bank_code: str) -> str:
    """The check digit printed after the bank code in the boleto ("237" -> "2").

    Modulo 11 with weights 2, 3, 4 from the right; 11 minus the remainder, where 10 is printed
    "X" and 11 is printed "0".
    """
    if len(bank_code) != 3 or not bank_code.isdigit():
        raise ValueError(f"bank code must be 3 digits, got {bank_code!r}")
    total = sum(int(d) * w for d, w in zip(reversed(bank_code), (2, 3, 4), strict=True))
    result = 11 - total % 11
    if result == 10:
        return "X"
    if result == 11:
        return "0"
    return str(result)


# --- invoice (boleto + PIX) -------------------------------------------------------------------

_PAGE_W: float = A4[0]
_PAGE_H: float = A4[1]
_MARGIN = 10 * mm
_LEFT = _MARGIN
_WIDTH = _PAGE_W - 2 * _MARGIN
_RIGHT_COL = 48 * mm  # the right-hand column of the ficha: vencimento, valores...
_BANK_NAME_W = 50 * mm
_BANK_CODE_W = 20 * mm

_FONT = "Helvetica"
_FONT_BOLD = "Helvetica-Bold"
_MONO = "Courier"
_MONO_BOLD = "Courier-Bold"
_LABEL_SIZE = 5.5
_VALUE_SIZE = 8.5
_THIN = 0.5
_THICK = 1.6
_SHADE = colors.Color(0.9, 0.9, 0.9)

# FEBRABAN: Interleaved 2 of 5, narrow bar 0.254 mm, wide 3x narrow, 13 mm high; the 44 digits
# are then 405 narrow modules = 103 mm wide. The 44 digits already include their check digit.
_BAR_WIDTH = 0.254 * mm
_BAR_RATIO = 3.0
_BAR_HEIGHT = 13 * mm
_BAR_QUIET = 6 * mm

_QR_SIZE = 40 * mm
_PIX_CODE_SIZE = 6.5

Align = Literal["left", "right", "center"]


def _width(text: str, font: str, size: float) -> float:
    return float(stringWidth(text, font, size))


def _fit(text: str, font: str, size: float, width: float, min_size: float = 5.5) -> float:
    """The largest font size, down to min_size, at which text fits width."""
    while size > min_size and _width(text, font, size) > width:
        size -= 0.25
    return max(size, min_size)


def _clip(text: str, font: str, size: float, width: float) -> str:
    """Text cut with an ellipsis so it fits width at size."""
    if _width(text, font, size) <= width:
        return text
    while text and _width(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _draw_text(
    c: Any, x: float, y: float, w: float, text: str, font: str, size: float, align: Align
) -> None:
    """One line, shrunk (then clipped) to fit [x, x + w], aligned within it."""
    size = _fit(text, font, size, w)
    text = _clip(text, font, size, w)
    c.setFont(font, size)
    if align == "right":
        c.drawRightString(x + w, y, text)
    elif align == "center":
        c.drawCentredString(x + w / 2, y, text)
    else:
        c.drawString(x, y, text)


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines of text wrapped at word boundaries, keeping its own line breaks."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines.extend(str(line) for line in simpleSplit(paragraph, font, size, width) or [""])
    return lines


def _wrap_chars(text: str, font: str, size: float, width: float) -> list[str]:
    """Text with no spaces to break at (a BR Code) cut into lines of whatever fits width."""
    per_line = max(1, int(width // _width("0", font, size)))
    return [text[i : i + per_line] for i in range(0, len(text), per_line)] or [""]


def _field(
    c: Any,
    x: float,
    top: float,
    w: float,
    h: float,
    label: str,
    values: Sequence[str] = (),
    *,
    bold: bool = False,
    align: Align = "left",
    shade: bool = False,
    size: float = _VALUE_SIZE,
) -> None:
    """A boleto box: the border, a small label in its top-left corner, values below it."""
    bottom = top - h
    if shade:
        c.setFillColor(_SHADE)
        c.rect(x, bottom, w, h, stroke=0, fill=1)
        c.setFillColor(colors.black)
    c.setLineWidth(_THIN)
    c.rect(x, bottom, w, h, stroke=1, fill=0)
    pad = 1.3 * mm
    c.setFont(_FONT, _LABEL_SIZE)
    c.drawString(x + pad, top - 2.2 * mm, label)
    y = top - 2.2 * mm - size - 0.6 * mm
    for value in values:
        if y < bottom + 0.8 * mm:
            break
        _draw_text(c, x + pad, y, w - 2 * pad, value, _FONT_BOLD if bold else _FONT, size, align)
        y -= size + 1.2


def _bank_header(c: Any, doc: InvoiceDocument, top: float, right_text: str, mono: bool) -> float:
    """Bank name | bank code-DV | right_text, over a thick line. Returns the line's y."""
    h = 9 * mm
    bottom = top - h
    base = bottom + 2.2 * mm
    _draw_text(c, _LEFT, base, _BANK_NAME_W - 2 * mm, doc.bank_name, _FONT_BOLD, 11, "left")
    c.setLineWidth(_THICK)
    x_code = _LEFT + _BANK_NAME_W
    c.line(x_code, bottom, x_code, bottom + 7 * mm)
    c.line(x_code + _BANK_CODE_W, bottom, x_code + _BANK_CODE_W, bottom + 7 * mm)
    code = f"{doc.bank_code}-{bank_code_dv(doc.bank_code)}"
    _draw_text(c, x_code, base, _BANK_CODE_W, code, _FONT_BOLD, 15, "center")
    x_rest = x_code + _BANK_CODE_W + 2 * mm
    w_rest = _LEFT + _WIDTH - x_rest
    if mono:
        _draw_text(c, x_rest, base, w_rest, right_text, _MONO_BOLD, 12.5, "right")
    else:
        _draw_text(c, x_rest, base, w_rest, right_text, _FONT_BOLD, 10, "right")
    c.setLineWidth(_THICK)
    c.line(_LEFT, bottom, _LEFT + _WIDTH, bottom)
    return bottom


def _party_line(party: Party) -> str:
    if not party.document:
        return party.name
    return f"{party.name} – {_document_label(party.document)} {party.document}"


def _draw_receipt(c: Any, doc: InvoiceDocument, top: float) -> float:
    """The "Recibo do Pagador". Returns the y it ends at."""
    y = _bank_header(c, doc, top, "Recibo do Pagador", mono=False)
    amount = format_brl(doc.amount_cents)
    left_w = _WIDTH - 2 * _RIGHT_COL
    x2 = _LEFT + left_w
    x3 = x2 + _RIGHT_COL
    row = 9 * mm

    beneficiary = [_party_line(doc.beneficiary)]
    _field(c, _LEFT, y, left_w, row, "Beneficiário", beneficiary)
    _field(c, x2, y, _RIGHT_COL, row, "Agência/Código do beneficiário", [doc.agency_account])
    _field(
        c,
        x3,
        y,
        _RIGHT_COL,
        row,
        "Vencimento",
        [_dmy(doc.due_date)],
        bold=True,
        align="right",
        shade=True,
    )
    y -= row
    _field(c, _LEFT, y, left_w, row, "Pagador", [_party_line(doc.payer)])
    _field(c, x2, y, _RIGHT_COL, row, "Nº do documento", [doc.document_number])
    _field(c, x3, y, _RIGHT_COL, row, "Nosso número", [doc.nosso_numero], align="right")
    y -= row
    reference = f"{doc.installment_label} – acordo {doc.agreement_id} – credor: {doc.creditor}"
    _field(c, _LEFT, y, left_w, row, "Referência", [reference])
    _field(c, x2, y, _RIGHT_COL, row, "Data do documento", [_dmy(doc.issue_date)])
    _field(
        c,
        x3,
        y,
        _RIGHT_COL,
        row,
        "(=) Valor do documento",
        [amount],
        bold=True,
        align="right",
        shade=True,
    )
    y -= row
    c.setFont(_FONT, 6)
    c.drawRightString(_LEFT + _WIDTH, y - 3 * mm, "Autenticação mecânica")
    return y - 7 * mm


def _draw_pix(c: Any, doc: InvoiceDocument, top: float) -> float:
    """The "Pague com PIX" section: QR code, how-to, the copy-and-paste code beneath."""
    pad = 4 * mm
    inner_w = _WIDTH - 2 * pad
    code_lines = _wrap_chars(doc.pix_code, _MONO, _PIX_CODE_SIZE, inner_w)
    code_h = len(code_lines) * (_PIX_CODE_SIZE + 1.5)
    # Around the QR code: no quiet border drawn by the widget, so keep marks >= 4 modules away.
    h = 10 * mm + _QR_SIZE + 7 * mm + code_h + pad
    bottom = top - h
    c.setLineWidth(_THIN)
    c.roundRect(_LEFT, bottom, _WIDTH, h, 2 * mm, stroke=1, fill=0)

    c.setFont(_FONT_BOLD, 12)
    c.drawString(_LEFT + pad, top - 6.5 * mm, "Pague com PIX")

    qr_top = top - 10 * mm
    widget = QrCodeWidget(doc.pix_code, barLevel="M", barBorder=0)
    x0, y0, x1, y1 = (float(v) for v in widget.getBounds())
    drawing = Drawing(
        _QR_SIZE,
        _QR_SIZE,
        transform=[_QR_SIZE / (x1 - x0), 0, 0, _QR_SIZE / (y1 - y0), 0, 0],
    )
    drawing.add(widget)
    renderPDF.draw(drawing, c, _LEFT + pad, qr_top - _QR_SIZE)

    x_text = _LEFT + pad + _QR_SIZE + 6 * mm
    w_text = _LEFT + _WIDTH - pad - x_text
    y = qr_top - 4 * mm
    for label, value in (
        ("Valor", format_brl(doc.amount_cents)),
        ("Vencimento", _dmy(doc.due_date)),
        ("Beneficiário", doc.beneficiary.name),
    ):
        c.setFont(_FONT, 7)
        c.drawString(x_text, y, label)
        _draw_text(c, x_text + 22 * mm, y, w_text - 22 * mm, value, _FONT_BOLD, 10, "left")
        y -= 5.5 * mm
    y -= 1 * mm
    how_to = (
        "Abra o aplicativo do seu banco, escolha pagar com PIX e leia o QR Code ao lado, "
        "ou use a opção PIX Copia e Cola com o código abaixo. O pagamento por PIX é "
        "confirmado na hora e tem o mesmo efeito do pagamento deste boleto."
    )
    c.setFont(_FONT, 8)
    for line in _wrap(how_to, _FONT, 8, w_text):
        c.drawString(x_text, y, line)
        y -= 10.5

    y = qr_top - _QR_SIZE - 5.5 * mm
    c.setFont(_FONT_BOLD, 6.5)
    c.drawString(_LEFT + pad, y, "PIX Copia e Cola")
    y -= _PIX_CODE_SIZE + 2
    c.setFont(_MONO, _PIX_CODE_SIZE)
    for line in code_lines:
        c.drawString(_LEFT + pad, y, line)
        y -= _PIX_CODE_SIZE + 1.5
    return bottom


def _draw_cut_line(c: Any, y: float) -> None:
    c.saveState()
    c.setLineWidth(_THIN)
    c.setDash(2, 2)
    c.line(_LEFT, y, _LEFT + _WIDTH, y)
    c.restoreState()
    c.setFont(_FONT, 5.5)
    c.drawRightString(_LEFT + _WIDTH, y + 1.2 * mm, "Corte na linha pontilhada")


def _draw_slip(c: Any, doc: InvoiceDocument, top: float) -> None:
    """The "Ficha de Compensação", with the barcode at its bottom."""
    y = _bank_header(c, doc, top, doc.digitable_line, mono=True)
    left_w = _WIDTH - _RIGHT_COL
    x_r = _LEFT + left_w
    row = 8.5 * mm

    _field(
        c,
        _LEFT,
        y,
        left_w,
        row,
        "Local de pagamento",
        ["Pagável em qualquer banco até o vencimento"],
    )
    _field(
        c,
        x_r,
        y,
        _RIGHT_COL,
        row,
        "Vencimento",
        [_dmy(doc.due_date)],
        bold=True,
        align="right",
        shade=True,
    )
    y -= row

    beneficiary = [_party_line(doc.beneficiary)]
    if doc.beneficiary.address:
        beneficiary.append(doc.beneficiary.address)
    _field(c, _LEFT, y, left_w, 11 * mm, "Beneficiário", beneficiary)
    _field(
        c,
        x_r,
        y,
        _RIGHT_COL,
        11 * mm,
        "Agência/Código do beneficiário",
        [doc.agency_account],
        align="right",
    )
    y -= 11 * mm

    def columns(cells: Sequence[tuple[str, str, float]]) -> None:
        x = _LEFT
        for label, value, share in cells:
            w = left_w * share
            _field(c, x, y, w, row, label, [value] if value else [])
            x += w

    columns(
        (
            ("Data do documento", _dmy(doc.issue_date), 0.2),
            ("Nº do documento", doc.document_number, 0.3),
            ("Espécie doc.", "", 0.14),
            ("Aceite", "N", 0.12),
            ("Data do processamento", _dmy(doc.issue_date), 0.24),
        )
    )
    _field(c, x_r, y, _RIGHT_COL, row, "Nosso número", [doc.nosso_numero], align="right")
    y -= row

    columns(
        (
            ("Uso do banco", "", 0.2),
            ("Carteira", doc.wallet, 0.16),
            ("Espécie", "R$", 0.14),
            ("Quantidade", "", 0.24),
            ("Valor", "", 0.26),
        )
    )
    _field(
        c,
        x_r,
        y,
        _RIGHT_COL,
        row,
        "(=) Valor do documento",
        [format_brl(doc.amount_cents)],
        bold=True,
        align="right",
        shade=True,
    )
    y -= row

    adjustments = (
        "(-) Desconto / Abatimento",
        "(-) Outras deduções",
        "(+) Mora / Multa",
        "(+) Outros acréscimos",
        "(=) Valor cobrado",
    )
    instructions_h = row * len(adjustments)
    pad = 1.3 * mm
    c.setLineWidth(_THIN)
    c.rect(_LEFT, y - instructions_h, left_w, instructions_h, stroke=1, fill=0)
    c.setFont(_FONT, _LABEL_SIZE)
    c.drawString(
        _LEFT + pad, y - 2.2 * mm, "Instruções (texto de responsabilidade do beneficiário)"
    )
    text = f"{doc.installment_label} do acordo {doc.agreement_id} – credor: {doc.creditor}"
    lines = _wrap(text, _FONT_BOLD, 8, left_w - 2 * pad)
    bold_count = len(lines)
    if doc.instructions:
        lines += _wrap(doc.instructions, _FONT, 8, left_w - 2 * pad)
    line_y = y - 2.2 * mm - 8 - 1.5 * mm
    for i, line in enumerate(lines):
        if line_y < y - instructions_h + 1 * mm:
            break
        c.setFont(_FONT_BOLD if i < bold_count else _FONT, 8)
        c.drawString(_LEFT + pad, line_y, line)
        line_y -= 10
    for label in adjustments:
        _field(c, x_r, y, _RIGHT_COL, row, label)
        y -= row

    payer = [_party_line(doc.payer)]
    if doc.payer.address:
        payer.append(doc.payer.address)
    _field(c, _LEFT, y, _WIDTH, 12 * mm, "Pagador", payer)
    y -= 12 * mm
    c.setFont(_FONT, 5.5)
    c.drawString(_LEFT + pad, y - 2.2 * mm, "Sacador/Avalista")
    c.setFont(_FONT, 6)
    c.drawRightString(_LEFT + _WIDTH, y - 2.2 * mm, "Autenticação mecânica – Ficha de Compensação")

    barcode = I2of5(
        doc.barcode,
        barWidth=_BAR_WIDTH,
        ratio=_BAR_RATIO,
        barHeight=_BAR_HEIGHT,
        checksum=0,
        bearers=0,
        quiet=1,
        lquiet=_BAR_QUIET,
        rquiet=_BAR_QUIET,
        humanReadable=0,
    )
    barcode.drawOn(c, _LEFT - _BAR_QUIET + 1 * mm, y - 5 * mm - _BAR_HEIGHT)


def invoice_pdf(doc: InvoiceDocument) -> bytes:
    """The boleto of one installment, with its PIX QR code, as a one-page A4 PDF."""
    if len(doc.barcode) != 44 or not doc.barcode.isdigit():
        raise ValueError(f"barcode must be 44 digits, got {len(doc.barcode)} characters")
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(f"Boleto {doc.document_number} – {doc.installment_label}")
    c.setAuthor(doc.beneficiary.name)
    c.setSubject(f"Acordo {doc.agreement_id}")

    y = _draw_receipt(c, doc, _PAGE_H - _MARGIN)
    y = _draw_pix(c, doc, y)
    y -= 7 * mm
    _draw_cut_line(c, y)
    _draw_slip(c, doc, y - 5 * mm)

    c.showPage()
    c.save()
    return buffer.getvalue()


# --- agreement term ---------------------------------------------------------------------------

_TERM_MARGIN = 18 * mm
_TERM_WIDTH = _PAGE_W - 2 * _TERM_MARGIN
_GRID = colors.Color(0.6, 0.6, 0.6)
_HEADER_BG = colors.Color(0.88, 0.88, 0.88)

_BODY = ParagraphStyle("body", fontName=_FONT, fontSize=9.5, leading=12.5, alignment=TA_JUSTIFY)
_TITLE = ParagraphStyle(
    "title", fontName=_FONT_BOLD, fontSize=17, leading=21, alignment=TA_CENTER, spaceAfter=2
)
_SUBTITLE = ParagraphStyle(
    "subtitle", fontName=_FONT_BOLD, fontSize=11.5, leading=15, alignment=TA_CENTER
)
_CENTERED = ParagraphStyle("centered", parent=_BODY, alignment=TA_CENTER, fontSize=9)
_HEADING = ParagraphStyle(
    "heading", fontName=_FONT_BOLD, fontSize=10.5, leading=13, spaceBefore=8, spaceAfter=3
)
_CLAUSE = ParagraphStyle("clause", parent=_BODY, spaceAfter=4)
_CELL = ParagraphStyle("cell", fontName=_FONT, fontSize=8.5, leading=10.5)
_CELL_HEAD = ParagraphStyle("cell_head", fontName=_FONT_BOLD, fontSize=8, leading=10)
_CELL_HEAD_RIGHT = ParagraphStyle("cell_head_right", parent=_CELL_HEAD, alignment=TA_RIGHT)


def _p(text: str, style: ParagraphStyle = _BODY) -> Any:
    """A paragraph of reportlab markup (escape what comes from data with `escape`)."""
    return Paragraph(text, style)


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    right_from: int,
    *,
    total_row: bool = False,
) -> Any:
    """A grid with a shaded header; columns from right_from on are numbers (right-aligned)."""
    head = [
        _p(escape(h), _CELL_HEAD_RIGHT if i >= right_from else _CELL_HEAD)
        for i, h in enumerate(header)
    ]
    table = Table([head, *rows], colWidths=[_TERM_WIDTH * w for w in widths], repeatRows=1)
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, _GRID),
        ("BACKGROUND", (0, 0), (-1, 0), _HEADER_BG),
        ("FONT", (0, 1), (-1, -1), _FONT, 8.5),
        ("ALIGN", (right_from, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if total_row and rows:
        commands += [
            ("FONT", (0, -1), (-1, -1), _FONT_BOLD, 8.5),
            ("BACKGROUND", (0, -1), (-1, -1), _HEADER_BG),
        ]
    table.setStyle(TableStyle(commands))
    return table


def _debts_table(term: AgreementTerm) -> Any:
    rows: list[list[Any]] = [
        [
            _p(escape(d.contract), _CELL),
            _p(escape(d.installment), _CELL),
            _dmy(d.due_date),
            format_brl(d.principal_cents),
            format_brl(d.charges_cents),
            format_brl(d.updated_value_cents),
            str(d.days_overdue),
        ]
        for d in term.debts
    ]
    if term.debts:
        rows.append(
            [
                "Total",
                "",
                "",
                format_brl(sum(d.principal_cents for d in term.debts)),
                format_brl(sum(d.charges_cents for d in term.debts)),
                format_brl(sum(d.updated_value_cents for d in term.debts)),
                "",
            ]
        )
    return _table(
        (
            "Contrato",
            "Parcela",
            "Vencimento",
            # What the debt owed of its principal on the agreement day: the creditor's amount,
            # or what was left of it after earlier payments (QA pass 9, D8: a renegotiation's
            # R$ 664,80 left of R$ 2.000,00 read "Valor original").
            "Principal em aberto",
            "Encargos",
            "Valor atualizado",
            "Dias em atraso",
        ),
        rows,
        (0.22, 0.11, 0.12, 0.15, 0.13, 0.16, 0.11),
        right_from=3,
        total_row=True,
    )


def _totals_table(term: AgreementTerm) -> Any:
    rows = [
        ["Valor atualizado das dívidas", format_brl(term.updated_value_cents)],
        ["(-) Desconto no principal", format_brl(term.principal_discount_cents)],
        ["(-) Desconto em encargos", format_brl(term.charges_discount_cents)],
        ["(=) Valor do acordo", format_brl(term.total_cents)],
    ]
    table = Table(rows, colWidths=[_TERM_WIDTH * 0.42, _TERM_WIDTH * 0.2], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, _GRID),
                ("FONT", (0, 0), (-1, -1), _FONT, 9),
                ("FONT", (0, -1), (-1, -1), _FONT_BOLD, 9.5),
                ("BACKGROUND", (0, -1), (-1, -1), _HEADER_BG),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _schedule_table(term: AgreementTerm) -> Any:
    rows: list[list[Any]] = [
        [_p(escape(i.label), _CELL), _dmy(i.due_date), format_brl(i.amount_cents)]
        for i in sorted(term.installments, key=lambda i: (i.number, i.due_date))
    ]
    if term.installments:
        rows.append(["Total", "", format_brl(sum(i.amount_cents for i in term.installments))])
    table = _table(
        ("Parcela", "Vencimento", "Valor"), rows, (0.3, 0.2, 0.2), right_from=2, total_row=True
    )
    table.hAlign = "LEFT"
    return table


def _clauses(term: AgreementTerm) -> list[str]:
    return [
        "<b>Cláusula 1ª – Da confissão de dívida.</b> O DEVEDOR reconhece e confessa, de forma "
        "irrevogável e irretratável, ser devedor ao CREDOR dos débitos relacionados neste termo, "
        f"cujo valor atualizado até a data do acordo é de {format_brl(term.updated_value_cents)}, "
        "e declara nada ter a opor quanto à sua origem e aos seus valores.",
        "<b>Cláusula 2ª – Da renegociação.</b> O CREDOR, representado pela ASSESSORIA, "
        f"concede desconto de {format_brl(term.principal_discount_cents)} sobre o "
        f"principal e de {format_brl(term.charges_discount_cents)} sobre os encargos, e o "
        "DEVEDOR se obriga a pagar ao CREDOR o valor total de "
        f"{format_brl(term.total_cents)}, nas datas e valores do cronograma de pagamento acima.",
        "<b>Cláusula 3ª – Da forma de pagamento.</b> Cada parcela será paga por boleto bancário "
        "ou por PIX, emitidos pela ASSESSORIA, até a data do seu vencimento. A parcela só se "
        "considera paga com a confirmação do crédito correspondente.",
        "<b>Cláusula 4ª – Da quebra do acordo.</b> O acordo será considerado quebrado, "
        "independentemente de aviso ou notificação, quando a primeira parcela estiver em atraso "
        f"há {_days(term.break_first_days)} ou qualquer das demais parcelas estiver em atraso "
        f"há {_days(term.break_later_days)}. Nesse caso, os débitos relacionados neste termo "
        "voltam a ser cobrados, deduzidos os valores já pagos.",
        "<b>Cláusula 5ª – Da quitação.</b> Com o pagamento de todas as parcelas, os débitos "
        "relacionados neste termo ficam quitados, e o nome do DEVEDOR será excluído dos "
        "cadastros de proteção ao crédito, em razão desses débitos, no prazo legal.",
    ]


def _closing(term: AgreementTerm, place: str) -> list[Any]:
    channel = escape(channel_pt_br(term.channel))
    how = f"Acordo fechado em {_dmy(term.closed_on)} pelo canal <b>{channel}</b>"
    if term.operator:
        how += f" (atendente responsável: <b>{escape(term.operator)}</b>)"
    how += (
        ". A aceitação das condições pelo DEVEDOR nesse canal vale "
        "como sua concordância com todos os termos deste documento."
    )
    return [
        _p(how, _CLAUSE),
        Spacer(1, 2 * mm),
        _p(f"{escape(place)}, {long_date_pt_br(term.closed_on)}.", _BODY),
        Spacer(1, 2 * mm),
        _p(f"Identificador do acordo: <b>{escape(term.agreement_id)}</b>", _BODY),
    ]


_ENDED_MARK = ParagraphStyle(
    "ended_mark",
    parent=_CLAUSE,
    fontName=_FONT_BOLD,
    textColor=colors.Color(0.6, 0.0, 0.0),
    borderColor=colors.Color(0.6, 0.0, 0.0),
    borderWidth=1,
    borderPadding=4,
    spaceBefore=4,
    spaceAfter=6,
)


def term_status_mark(term: AgreementTerm) -> str | None:
    """What an agreement no longer in force carries above its terms: 'ACORDO ENCERRADO em
    05/01/2026: o credor reduziu o valor da dívida; ...' or 'ACORDO QUITADO em ...'; None
    while it is in force."""
    if term.ended_because is not None:
        when = f" em {_dmy(term.ended_on)}" if term.ended_on else ""
        return (
            f"ACORDO ENCERRADO{when}: {term.ended_because}. Este acordo não está mais em vigor: "
            "as parcelas canceladas não devem ser pagas, e este termo fica apenas como registro "
            "do que foi acordado."
        )
    if term.fulfilled_on is not None:
        return (
            f"ACORDO QUITADO em {_dmy(term.fulfilled_on)}: todas as parcelas foram pagas. Este "
            "termo fica como registro do que foi acordado."
        )
    return None


def term_pdf(term: AgreementTerm, *, place: str = "São Paulo") -> bytes:
    """The term of the agreement (confession and renegotiation of debt) as an A4 PDF."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=_TERM_MARGIN,
        rightMargin=_TERM_MARGIN,
        topMargin=14 * mm,
        bottomMargin=16 * mm,
        title=f"Termo de Acordo {term.agreement_id}",
        author=term.tenant_name,
        subject="Termo de Confissão e Renegociação de Dívida",
        invariant=1,
        pageCompression=1,
    )

    mark = term_status_mark(term)
    if term.ended_because is not None:
        ended = " (ACORDO ENCERRADO" + (f" em {_dmy(term.ended_on)})" if term.ended_on else ")")
    else:
        ended = ""

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(_FONT, 7.5)
        canvas.setFillColor(colors.Color(0.35, 0.35, 0.35))
        y = 10 * mm
        canvas.drawString(_TERM_MARGIN, y, f"Termo de Acordo nº {term.agreement_id}{ended}")
        canvas.drawRightString(_PAGE_W - _TERM_MARGIN, y, f"Página {doc.page}")
        canvas.restoreState()

    debtor = term.debtor
    debtor_text = f"<b>DEVEDOR:</b> {escape(debtor.name)}"
    if debtor.document:
        debtor_text += f", {_document_label(debtor.document)} {escape(debtor.document)}"
    if debtor.address:
        debtor_text += f", com endereço em {escape(debtor.address)}"
    debtor_text = _sentence(debtor_text)

    story: list[Any] = [
        _p("TERMO DE ACORDO", _TITLE),
        _p("Termo de Confissão e Renegociação de Dívida", _SUBTITLE),
        Spacer(1, 1.5 * mm),
        _p(f"Acordo nº {escape(term.agreement_id)}", _CENTERED),
        *([_p(escape(mark), _ENDED_MARK)] if mark else []),
        _p("Partes", _HEADING),
        _p(f"<b>CREDOR:</b> {escape(_sentence(term.creditor))}", _CLAUSE),
        _p(
            f"<b>ASSESSORIA:</b> {escape(term.tenant_name)}, assessoria de cobrança que atua "
            "em nome do CREDOR.",
            _CLAUSE,
        ),
        _p(debtor_text, _CLAUSE),
        _p("Débitos renegociados", _HEADING),
        _debts_table(term),
        KeepTogether([_p("Condições do acordo", _HEADING), _totals_table(term)]),
        _p("Cronograma de pagamento", _HEADING),
        _schedule_table(term),
        _p("Cláusulas", _HEADING),
        *(_p(text, _CLAUSE) for text in _clauses(term)),
        KeepTogether([_p("Formalização", _HEADING), *_closing(term, place)]),
    ]
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


# --- debt statement ---------------------------------------------------------------------------

_STATEMENT_MARGIN = 12 * mm
_STATEMENT_WIDTH = _PAGE_W - 2 * _STATEMENT_MARGIN
_SMALL_CELL = ParagraphStyle("small_cell", fontName=_FONT, fontSize=7, leading=8.5)
_SMALL_HEAD = ParagraphStyle("small_head", fontName=_FONT_BOLD, fontSize=6.5, leading=8)
_SMALL_HEAD_RIGHT = ParagraphStyle("small_head_right", parent=_SMALL_HEAD, alignment=TA_RIGHT)
_STATEMENT_COLUMNS = (
    ("Credor", 0.13),
    ("Contrato", 0.125),
    ("Parcela", 0.055),
    ("Vencimento", 0.085),
    ("Dias em atraso", 0.06),
    ("Principal", 0.11),
    ("Multa", 0.1),
    ("Juros", 0.1),
    ("Correção", 0.1),
    ("Valor atualizado", 0.135),
)
_STATEMENT_NUMBERS_FROM = 4  # "Dias em atraso" on: right-aligned


def _statement_table(statement: DebtStatement) -> Any:
    lines = statement.lines
    head = [
        _p(escape(name), _SMALL_HEAD_RIGHT if i >= _STATEMENT_NUMBERS_FROM else _SMALL_HEAD)
        for i, (name, _) in enumerate(_STATEMENT_COLUMNS)
    ]
    rows: list[list[Any]] = []
    for line in lines:
        contract = escape(line.contract)
        if line.in_agreement:
            contract += "<br/><i>em acordo</i>"
        rows.append(
            [
                _p(escape(line.creditor), _SMALL_CELL),
                _p(contract, _SMALL_CELL),
                _p(escape(line.installment), _SMALL_CELL),
                _dmy(line.due_date),
                str(line.days_overdue),
                format_brl(line.principal_cents),
                format_brl(line.penalty_cents),
                format_brl(line.interest_cents),
                format_brl(line.correction_cents),
                format_brl(line.updated_value_cents),
            ]
        )
    rows.append(
        [
            "Total",
            "",
            "",
            "",
            "",
            format_brl(sum(line.principal_cents for line in lines)),
            format_brl(sum(line.penalty_cents for line in lines)),
            format_brl(sum(line.interest_cents for line in lines)),
            format_brl(sum(line.correction_cents for line in lines)),
            format_brl(statement.total_updated_cents),
        ]
    )
    table = Table(
        [head, *rows],
        colWidths=[_STATEMENT_WIDTH * w for _, w in _STATEMENT_COLUMNS],
        repeatRows=1,
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, _GRID),
                ("BACKGROUND", (0, 0), (-1, 0), _HEADER_BG),
                ("FONT", (0, 1), (-1, -1), _FONT, 7),
                ("ALIGN", (_STATEMENT_NUMBERS_FROM, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                ("FONT", (0, -1), (-1, -1), _FONT_BOLD, 7),
                ("BACKGROUND", (0, -1), (-1, -1), _HEADER_BG),
                ("FONT", (-1, 1), (-1, -1), _FONT_BOLD, 7),
            ]
        )
    )
    return table


_STATEMENT_DEBT_COLUMNS = (
    ("Contrato", 0.3),
    ("Parcela", 0.12),
    ("Vencimento", 0.15),
    ("Valor atualizado na data do acordo", 0.25),
)
_STATEMENT_INSTALLMENT_COLUMNS = (
    ("Parcela", 0.2),
    ("Vencimento", 0.13),
    ("Valor", 0.15),
    ("Pago", 0.15),
    ("Saldo", 0.15),
    ("Situação", 0.14),
)


def _small_table(
    columns: Sequence[tuple[str, float]], rows: list[list[Any]], right_from: int
) -> Any:
    """A grid in the statement's small type; columns from right_from on are numbers."""
    head = [
        _p(escape(name), _SMALL_HEAD_RIGHT if i >= right_from else _SMALL_HEAD)
        for i, (name, _) in enumerate(columns)
    ]
    table = Table(
        [head, *rows],
        colWidths=[_STATEMENT_WIDTH * w for _, w in columns],
        repeatRows=1,
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, _GRID),
                ("BACKGROUND", (0, 0), (-1, 0), _HEADER_BG),
                ("FONT", (0, 1), (-1, -1), _FONT, 7),
                ("ALIGN", (right_from, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ]
        )
    )
    return table


def _installment_situation(installment: StatementInstallment) -> str:
    if installment.overdue:
        return "Vencida, paga em parte" if installment.paid_cents else "Vencida"
    return "Paga em parte" if installment.paid_cents else "Em aberto"


def _statement_agreement(agreement: StatementAgreement) -> list[Any]:
    """One active agreement: named as the portal names it (creditor and day closed) and by
    its number (as the term prints it), its debts, its figures, the installments left."""
    debts = _small_table(
        _STATEMENT_DEBT_COLUMNS,
        [
            [
                _p(escape(d.contract), _SMALL_CELL),
                _p(escape(d.installment), _SMALL_CELL),
                _dmy(d.due_date),
                format_brl(d.updated_value_cents),
            ]
            for d in agreement.debts
        ],
        right_from=3,
    )
    figures = [
        "<b>Valor atualizado das dívidas na data do acordo:</b> "
        + format_brl(agreement.updated_value_cents),
        "<b>Desconto:</b> " + format_brl(agreement.discount_cents),
        "<b>Total do acordo:</b> " + format_brl(agreement.total_cents),
        "<b>Pago até agora:</b> " + format_brl(agreement.paid_cents),
        "<b>Saldo a pagar do acordo:</b> " + format_brl(agreement.due_cents),
    ]
    part: list[Any] = [
        _p(
            f"<b>{escape(agreement.creditor)}: acordo de {_dmy(agreement.closed_on)}</b>",
            _CLAUSE,
        ),
        _p(f"Acordo nº {escape(agreement.agreement_id)}", _CLAUSE),
        _p("Débitos renegociados:", _CLAUSE),
        debts,
        Spacer(1, 2 * mm),
        *(_p(text, _CLAUSE) for text in figures),
    ]
    if agreement.installments:
        part += [
            _p("Parcelas a pagar:", _CLAUSE),
            _small_table(
                _STATEMENT_INSTALLMENT_COLUMNS,
                [
                    [
                        _p(escape(i.label), _SMALL_CELL),
                        _dmy(i.due_date),
                        format_brl(i.amount_cents),
                        format_brl(i.paid_cents),
                        format_brl(i.balance_cents),
                        _installment_situation(i),
                    ]
                    for i in agreement.installments
                ],
                right_from=2,
            ),
        ]
    else:
        part.append(_p("Nenhuma parcela a pagar.", _CLAUSE))
    part.append(Spacer(1, 4 * mm))
    return part


def _statement_summary(statement: DebtStatement) -> Any:
    lines = [
        "<b>Total atualizado dos débitos em cobrança:</b> "
        + format_brl(statement.total_updated_cents)
    ]
    if statement.agreements:
        lines.append(
            "<b>Saldo a pagar dos acordos em andamento:</b> "
            + format_brl(sum(a.due_cents for a in statement.agreements))
        )
    lines.append("<b>Total a pagar:</b> " + format_brl(statement.total_due_cents))
    return KeepTogether([_p(text, _CLAUSE) for text in lines])


def statement_pdf(statement: DebtStatement) -> bytes:
    """The debt statement (demonstrativo de débito) as an A4 PDF: one page for a few dozen
    debts, more if the debtor has more."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=_STATEMENT_MARGIN,
        rightMargin=_STATEMENT_MARGIN,
        topMargin=14 * mm,
        bottomMargin=16 * mm,
        title="Demonstrativo de débito",
        author=statement.tenant_name,
        subject=f"Posição em {_dmy(statement.as_of)}",
        invariant=1,
        pageCompression=1,
    )

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(_FONT, 7.5)
        canvas.setFillColor(colors.Color(0.35, 0.35, 0.35))
        y = 10 * mm
        canvas.drawString(
            _STATEMENT_MARGIN, y, f"Demonstrativo de débito – posição em {_dmy(statement.as_of)}"
        )
        canvas.drawRightString(_PAGE_W - _STATEMENT_MARGIN, y, f"Página {doc.page}")
        canvas.restoreState()

    debtor = statement.debtor
    debtor_text = f"<b>Devedor:</b> {escape(debtor.name)}" if debtor.name else ""
    if debtor.document:
        label = _document_label(debtor.document)
        document_text = f"<b>{label}:</b> {escape(debtor.document)}"
        debtor_text = f"{debtor_text} – {document_text}" if debtor_text else document_text

    story: list[Any] = [
        _p("Demonstrativo de débito", _TITLE),
        _p(escape(statement.tenant_name), _SUBTITLE),
        Spacer(1, 1.5 * mm),
        _p(f"Posição em {_dmy(statement.as_of)}", _CENTERED),
        Spacer(1, 4 * mm),
        _p(debtor_text, _CLAUSE),
    ]
    if not statement.lines and not statement.agreements:
        story += [
            _p("Débitos em aberto", _HEADING),
            _p("Nenhum débito em aberto nesta data.", _CLAUSE),
        ]
    else:
        story.append(_p("Débitos em cobrança", _HEADING))
        if statement.lines:
            story += [
                _statement_table(statement),
                Spacer(1, 3 * mm),
                _p(
                    "Valores atualizados até a data da posição, com multa, juros e correção "
                    "monetária conforme o contrato de cada credor; o principal já desconta o "
                    "que foi pago em acordos anteriores.",
                    _CLAUSE,
                ),
            ]
        else:
            story.append(_p("Nenhum débito em cobrança fora de acordo nesta data.", _CLAUSE))
        if statement.agreements:
            story.append(_p("Acordos em andamento", _HEADING))
            story.append(
                _p(
                    "Os débitos de um acordo em andamento são pagos pelas parcelas do acordo, "
                    "nos valores acordados, e não entram no total dos débitos em cobrança.",
                    _CLAUSE,
                )
            )
            for agreement in statement.agreements:
                story += _statement_agreement(agreement)
        story += [
            _p("Resumo", _HEADING),
            _statement_summary(statement),
        ]
    story.append(
        _p(
            "Este demonstrativo é informativo e não serve como boleto. Para pagar ou "
            "negociar, fale com a assessoria pelos canais de atendimento.",
            _CLAUSE,
        )
    )
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
