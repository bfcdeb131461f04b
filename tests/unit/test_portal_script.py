"""The portal's script checks documents as the server does: for many documents (valid CPFs and
CNPJs, alphanumeric ones, with punctuation, and one-character changes of them) its reason is
contracts.documents.validate_document's, word for word; and its mask writes them as people do.
Runs the script itself under Node (skipped where there is no `node`)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from contracts.documents import (
    InvalidDocument,
    format_document,
    generate_cnpj,
    generate_cpf,
    validate_document,
)
from services.gateway.entrypoints.web import STATIC_DIR
from services.gateway.entrypoints.web.pages import document_message

NODE = shutil.which("node")
SCRIPT = STATIC_DIR / "portal.js"
pytestmark = pytest.mark.skipif(NODE is None, reason="no `node` to run the portal's script")

RUNNER = """
const rules = require(process.argv[2]);
const inputs = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = inputs.map((raw) => {
  const reason = rules.problem(raw);
  const doc = rules.normalize(raw);
  return {
    reason: reason,
    message: reason ? rules.message(reason) : "",
    mask: /^[0-9A-Z]*$/.test(doc) ? rules.mask(doc.slice(0, 14)) : null,
  };
});
process.stdout.write(JSON.stringify(out));
"""


def run_script(inputs: list[str], tmp_path: Path) -> list[dict[str, str | None]]:
    runner = tmp_path / "runner.js"
    runner.write_text(RUNNER)
    done = subprocess.run(
        [str(NODE), str(runner), str(SCRIPT)],
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answers: list[dict[str, str | None]] = json.loads(done.stdout)
    return answers


def server_reason(raw: str) -> str:
    try:
        validate_document(raw)
    except InvalidDocument as exc:
        return exc.reason
    return ""


def documents() -> list[str]:
    rng = random.Random(20261125)
    found: list[str] = []
    for _ in range(150):
        valid = [generate_cpf(rng), generate_cnpj(rng), generate_cnpj(rng, alphanumeric=True)]
        for doc in valid:
            found += [doc, format_document(doc), doc.lower()]
            position = rng.randrange(len(doc))
            replacement = rng.choice("0123456789AZ")
            found.append(doc[:position] + replacement + doc[position + 1 :])
            found.append(doc[:position] + doc[position + 1 :])  # one character short
            found.append(doc + rng.choice("0123456789"))  # one too many
    found += [
        "",
        "   ",
        "111.111.111-11",
        "00000000000000",
        "123",
        "1234567890123",
        "12.ABC.345/01DE-3X",
        "578.722.458-2!",
        "ABCDEFGHIJKL",
        "578 722 458 25",
        "578\u2013722\u2013458\u201325",
    ]
    return found


def test_the_script_says_what_the_server_says(tmp_path: Path) -> None:
    inputs = documents()
    answers = run_script(inputs, tmp_path)
    for raw, answer in zip(inputs, answers, strict=True):
        expected = server_reason(raw)
        assert answer["reason"] == expected, raw
        if expected:
            try:
                validate_document(raw)
            except InvalidDocument as exc:
                assert answer["message"] == document_message(exc), raw


def test_the_mask_writes_documents_as_people_do(tmp_path: Path) -> None:
    inputs = ["57872245825", "5787224", "MG2TY7O5000119", "332181960001", "33218196000144", ""]
    masks = [a["mask"] for a in run_script(inputs, tmp_path)]
    assert masks == [
        "578.722.458-25",
        "578.722.4",
        "MG.2TY.7O5/0001-19",
        "33.218.196/0001",
        "33.218.196/0001-44",
        "",
    ]
