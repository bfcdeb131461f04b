"""`make bench-replay` still runs end to end, on a stream small enough for the suite: a change
elsewhere (a projection reading one more topic) once made it stop with a division by zero
after half an hour of work. Nothing here is timed: the figures are the benchmark's to print."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import replay_bench


def test_the_replay_benchmark_runs_every_step_and_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "replay.json"

    assert replay_bench.main(["--events", "3000", "--json", str(out)]) == 0

    figures = json.loads(out.read_text())
    steps = {step["key"]: step for step in figures["steps"]}
    replayed = [f"c_{name}" for name in replay_bench.REPLAYED]
    assert {"c_together", "c_floor", *replayed} <= steps.keys()
    # Every projection replayed read records; the one pass read the whole stream.
    assert all(steps[key]["events"] > 0 for key in replayed)
    assert steps["c_together"]["events"] == 3000
    assert all(step["events_per_s"] > 0 for step in figures["steps"])
