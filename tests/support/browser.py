"""A real browser for the portal tests: Debian's Chromium driven by Playwright, kept off the
network (only 127.0.0.1 resolves). Found, or installed from Debian's packages in CI when the
test runs as root, or the test skips saying why."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")

# Chromium's own background traffic off, and every host but the loopback unresolvable.
OFFLINE_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def find_chromium() -> str | None:
    configured = os.environ.get("COBRANCA_CHROMIUM")
    if configured and Path(configured).exists():
        return configured
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_or_reason() -> tuple[str | None, str]:
    """The browser's path, or why there is none."""
    found = find_chromium()
    if found:
        return found, ""
    if os.environ.get("CI") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"], env=env, check=False, timeout=1200
        )
        found = find_chromium()
        if found:
            return found, ""
    return None, (
        "no Chromium here: install Debian's `chromium` package (or set COBRANCA_CHROMIUM to a "
        "Chromium binary) to run the portal's browser tests"
    )
