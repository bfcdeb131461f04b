"""What `make up` says is what it did: the outbox it names is the one the messaging service
writes under the data directory (COBRANCA_DATA_DIR, not always ./var), and README tells the
demo conditions `up` creates."""

from __future__ import annotations

import re
from pathlib import Path

from cobranca.cli import demo_messaging_line
from cobranca.demo_negotiation import DEMO_CONDITIONS

ROOT = Path(__file__).resolve().parents[2]


def test_up_names_the_outbox_under_the_data_directory_it_runs_with(tmp_path: Path) -> None:
    data_dir = tmp_path / "var-pg"

    line = demo_messaging_line(12, data_dir)

    assert line == f"demo tenant: 12 message templates (sent to {data_dir}/messaging/outbox)"
    assert " var/messaging" not in line


def test_readme_tells_the_demo_conditions_up_creates() -> None:
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    said = re.search(r"`make up` gives the demo tenant (\w+) conditions (.{0,500})", readme)
    assert said is not None
    count, terms = said.groups()
    words = {3: "three", 4: "four", 5: "five", 6: "six"}
    assert count == words[len(DEMO_CONDITIONS)]
    a_vista = next(c for c in DEMO_CONDITIONS if c["installments"] == 1)
    assert f"à vista with {a_vista['principal_discount_pct']}% off the principal" in terms
    for n in sorted(c["installments"] for c in DEMO_CONDITIONS if c["installments"] > 1):
        assert f"{n}x" in terms, n
