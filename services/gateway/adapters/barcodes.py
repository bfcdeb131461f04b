"""The boleto's barcode (Interleaved 2 of 5 of its 44 digits) and the PIX QR code as small SVG
images for the portal's pages, as data: URIs (an <img> needs no inline style or script).

reportlab (already used for the PDFs) encodes both: its I2of5 gives the sequence of wide and
narrow bars and spaces, its QR encoder the modules. Each image is then one SVG path, a few KB,
where reportlab's own SVG renderer writes one styled rectangle per bar or module."""

from __future__ import annotations

import base64
from itertools import groupby

from reportlab.graphics.barcode.common import I2of5
from reportlab.graphics.barcode.qr import QrCodeWidget

NARROW = 1
WIDE = 3  # FEBRABAN's boletos: wide elements three times the narrow ones
BAR_HEIGHT = 50
QUIET_ZONE = 10
QR_BORDER = 4


def _svg(width: int, height: int, path: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" shape-rendering="crispEdges" role="img">'
        f"<title>{label}</title>"
        f'<rect width="{width}" height="{height}" fill="#fff"/>'
        f'<path fill="#000" d="{path}"/></svg>'
    )


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def barcode_svg(barcode: str) -> str:
    """The boleto's 44-digit barcode, Interleaved 2 of 5 (no check digit of its own)."""
    if len(barcode) != 44 or not barcode.isdigit():
        raise ValueError("the boleto's barcode has 44 digits")
    symbol = I2of5(barcode, checksum=0, bearers=0, quiet=0)
    symbol.validate()
    symbol.encode()
    symbol.decompose()
    x = QUIET_ZONE
    parts: list[str] = []
    for element in symbol.decomposed:
        width = WIDE if element.isupper() else NARROW
        if element in "bB":
            parts.append(f"M{x} 0h{width}v{BAR_HEIGHT}h-{width}z")
        x += width
    return _svg(x + QUIET_ZONE, BAR_HEIGHT, "".join(parts), "Código de barras")


def qr_svg(text: str) -> str:
    """A QR code (error correction level M, as the PDFs') of a PIX copy-and-paste code."""
    widget = QrCodeWidget(text, barLevel="M", barBorder=QR_BORDER)
    qr = widget.qr
    qr.make()
    size = qr.getModuleCount() + 2 * QR_BORDER
    parts: list[str] = []
    for row_number, row in enumerate(qr.modules):
        column = 0
        for dark, run in groupby(bool(module) for module in row):
            count = len(list(run))
            if dark:
                parts.append(f"M{column + QR_BORDER} {row_number + QR_BORDER}h{count}v1h-{count}z")
            column += count
    return _svg(size, size, "".join(parts), "QR Code PIX")
