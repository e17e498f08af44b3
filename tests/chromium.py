"""Headless Chromium for the browser tiers: Debian's `chromium`, driven by Playwright's Python client.

The tier installs `chromium` and `chromium-driver` with apt-get when they are missing and it runs
as root; elsewhere it is skipped with the reason. Playwright's own browser download
(`playwright install`) is never used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def install_chromium() -> str | None:
    """Install Debian's chromium + chromium-driver when missing; the reason it cannot be done, else None."""
    if Path(CHROMIUM).exists() and shutil.which("chromedriver"):
        return None
    if os.geteuid() != 0:
        return (
            "chromium is not installed and the tests do not run as root (apt-get install -y chromium chromium-driver)"
        )
    if not shutil.which("apt-get"):
        return "chromium is not installed and there is no apt-get here"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"]
    if subprocess.run(command, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            return f"apt-get could not install chromium: {done.stderr.strip()[-300:]}"
    return None if Path(CHROMIUM).exists() else "apt-get ran but /usr/bin/chromium is still missing"
