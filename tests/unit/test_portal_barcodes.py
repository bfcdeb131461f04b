"""The invoice page's images: the boleto's barcode (Interleaved 2 of 5 of its 44 digits) and
the PIX QR code, as SVG. The barcode is read back by a decoder written here (the standard's
patterns), and both by zbar when `zbarimg` is installed."""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.gateway.adapters.barcodes import (
    NARROW,
    QUIET_ZONE,
    WIDE,
    barcode_svg,
    data_uri,
    qr_svg,
)
from services.negotiation.domain.boleto import make_boleto

# Interleaved 2 of 5: each digit is five elements, two of them wide.
PATTERNS = {
    "NNWWN": "0",
    "WNNNW": "1",
    "NWNNW": "2",
    "WWNNN": "3",
    "NNWNW": "4",
    "WNWNN": "5",
    "NWWNN": "6",
    "NNNWW": "7",
    "WNNWN": "8",
    "NWNWN": "9",
}
PIX = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR"
    "5913FULANO DE TAL6008BRASILIA62070503***63041D3D"
)


def boleto_barcode() -> str:
    return make_boleto(
        bank_code="237",
        agency="1234",
        account="0012345",
        wallet="09",
        nosso_numero=42,
        amount_cents=362_032,
        due_date=dt.date(2026, 11, 25),
    ).barcode


def bars(svg: str) -> tuple[int, list[tuple[int, int]]]:
    width = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))  # type: ignore[union-attr]
    return width, [(int(x), int(w)) for x, w in re.findall(r"M(\d+) 0h(\d+)v", svg)]


def decode_i2of5(svg: str) -> str:
    width, found = bars(svg)
    assert found[0][0] == QUIET_ZONE and width - (found[-1][0] + found[-1][1]) == QUIET_ZONE
    elements: list[int] = []  # bar, space, bar, space... widths
    for (x, w), following in zip(found, [*found[1:], None], strict=True):
        elements.append(w)
        if following is not None:
            elements.append(following[0] - x - w)
    assert set(elements) <= {NARROW, WIDE}
    kind = "".join("W" if e == WIDE else "N" for e in elements)
    assert kind[:4] == "NNNN", "start pattern"
    assert kind[-3:] == "WNN", "stop pattern"
    body = kind[4:-3]
    digits = ""
    for start in range(0, len(body), 10):
        pair = body[start : start + 10]
        digits += PATTERNS[pair[0::2]] + PATTERNS[pair[1::2]]
    return digits


def test_a_boletos_barcode_reads_back_as_its_44_digits() -> None:
    barcode = boleto_barcode()
    svg = barcode_svg(barcode)
    assert decode_i2of5(svg) == barcode
    assert len(svg) < 4000  # one path, not a styled rectangle per bar
    assert "style=" not in svg


@settings(max_examples=50)
@given(st.text(alphabet="0123456789", min_size=44, max_size=44))
def test_any_44_digits_read_back(digits: str) -> None:
    assert decode_i2of5(barcode_svg(digits)) == digits


@pytest.mark.parametrize("wrong", ["", "1" * 43, "1" * 45, "1" * 43 + "x"])
def test_only_44_digits_make_a_barcode(wrong: str) -> None:
    with pytest.raises(ValueError):
        barcode_svg(wrong)


def test_the_qr_code_has_its_three_finder_patterns_and_no_style() -> None:
    svg = qr_svg(PIX)
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1))  # type: ignore[union-attr]
    dark = _modules(svg)
    modules = size - 8  # a 4-module quiet zone each side
    for left, top in ((4, 4), (4 + modules - 7, 4), (4, 4 + modules - 7)):
        ring = {(left + i, top) for i in range(7)} | {(left + i, top + 6) for i in range(7)}
        ring |= {(left, top + i) for i in range(7)} | {(left + 6, top + i) for i in range(7)}
        core = {(left + 2 + i, top + 2 + j) for i in range(3) for j in range(3)}
        assert ring | core <= dark
        assert not {(left + 1 + i, top + 1) for i in range(5)} & dark
    assert "style=" not in svg and len(svg) < 20_000


def test_data_uris_carry_the_svg() -> None:
    svg = qr_svg("x")
    uri = data_uri(svg)
    assert uri.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]).decode() == svg


def _modules(svg: str) -> set[tuple[int, int]]:
    dark: set[tuple[int, int]] = set()
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        dark |= {(int(x) + i, int(y)) for i in range(int(w))}
    return dark


ZBAR = shutil.which("zbarimg")


def _pgm(path: Path, pixels: list[bytes]) -> Path:
    path.write_bytes(f"P5 {len(pixels[0])} {len(pixels)} 255\n".encode() + b"".join(pixels))
    return path


def _zbar(path: Path) -> str:
    done = subprocess.run(
        [str(ZBAR), "--quiet", "--raw", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(ZBAR is None, reason="zbarimg (Debian's zbar-tools) is not installed")
def test_zbar_reads_both(tmp_path: Path) -> None:
    barcode = boleto_barcode()
    width, found = bars(barcode_svg(barcode))
    dark = [False] * width
    for x, w in found:
        dark[x : x + w] = [True] * w
    row = bytes(0 if dark[x // 3] else 255 for x in range(width * 3))
    assert _zbar(_pgm(tmp_path / "barcode.pgm", [row] * 60)) == barcode

    svg = qr_svg(PIX)
    size = int(re.search(r'viewBox="0 0 (\d+)', svg).group(1))  # type: ignore[union-attr]
    modules = _modules(svg)
    scale = 6
    pixels = [
        bytes(0 if (x // scale, y // scale) in modules else 255 for x in range(size * scale))
        for y in range(size * scale)
    ]
    assert _zbar(_pgm(tmp_path / "qr.pgm", pixels)) == PIX
