"""`cobranca simulate` as a collection manager runs it: the whole platform started by the
command, a small world living a few days through the API, the indicators printed; what the
simulator says its people did is what the topics say happened; the same seed twice gives the
same story in the streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

SIZE = ["--debtors", "20", "--days", "4", "--seed", "11"]


def _simulate(root: Path, name: str) -> subprocess.Popen[str]:
    env = dict(os.environ, COBRANCA_KAFKA_SESSION_TIMEOUT_MS="6000",
               COBRANCA_KAFKA_HEARTBEAT_INTERVAL_MS="500")  # fmt: skip
    env.pop("COBRANCA_DATA_DIR", None)
    env.pop("COBRANCA_KAFKA_BOOTSTRAP", None)
    return subprocess.Popen(
        [sys.executable, "-m", "cobranca", "simulate", *SIZE,
         "--data-dir", str(root / name), "--json", str(root / f"{name}.json")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def _finished(process: subprocess.Popen[str], root: Path, name: str) -> dict[str, Any]:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-4000:]
    # Its Kafka clients were served all along (a fetch left unanswered fails as timed out).
    assert "Failed fetch" not in output, output[-4000:]
    summary: dict[str, Any] = json.loads((root / f"{name}.json").read_text())
    summary["printed"] = output
    return summary


@pytest.mark.timeout(600)  # two platforms at once
def test_a_small_world_lives_on_the_platform_and_the_same_seed_tells_the_same_story(
    tmp_path: Path,
) -> None:
    # Two runs at once: the same seed, each on its own platform.
    first, second = _simulate(tmp_path, "a"), _simulate(tmp_path, "b")
    a, b = _finished(first, tmp_path, "a"), _finished(second, tmp_path, "b")

    activity = a["activity"]
    agreed = sum(n for what, n in activity.items() if what.startswith("agreements ("))
    assert activity["debts placed"] > 20  # every debtor has one debt or more
    assert activity["rows rejected"] == 0
    assert agreed > 0 and activity["payments"] > 0
    assert sum(n for what, n in activity.items() if what.startswith("calls: ")) > 0
    # What the simulated people did is what the topics say happened.
    assert a["streams"]["agreements"] == agreed
    assert a["streams"]["installments_paid"] == activity["payments"]
    assert a["streams"]["breaks"] >= activity.get("agreements found broken", 0)
    (everyone,) = a["agreements"]
    assert everyone["agreements"] == agreed and everyone["debtors"] == 20
    for rows in a["fpd"].values():
        assert all(0 <= r["defaulted"] <= r["agreements"] for r in rows)
    assert sum(r["placed_cents"] for r in a["recovery"]) > 0
    received = sum(r["received_cents"] for r in a["recovery"])
    assert 0 < received <= a["paid_cents"]
    # Printed for a person: the activity, FPD by channel, recovery by creditor.
    assert "FPD em 08/01/2026" in a["printed"] and "Recuperação por credor" in a["printed"]

    # The same seed: the same choices, the same story.
    assert b["activity"] == activity
    assert b["paid_cents"] == a["paid_cents"]
    assert b["streams"] == a["streams"]
