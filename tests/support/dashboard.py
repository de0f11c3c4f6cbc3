"""The dashboard as a user meets it: uvicorn in a subprocess, Debian's chromium driven by
Playwright (the system browser; nothing is downloaded), screenshots under build/screens/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payout.dashboard.auth import Role, key_file_entry
from payout.devnet import free_port

CHROMIUM = os.environ.get("PAYOUT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENS = Path(__file__).resolve().parents[2] / "build" / "screens"
#: A server that does not answer by then is a failure, not a hang.
START_TIMEOUT_S = 60.0

OPERATOR_KEY = "pk_test_operator_" + "o" * 24
FINANCE_KEY = "pk_test_finance_" + "f" * 24


@dataclass
class Dashboard:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def write_keys(path: Path) -> Path:
    path.write_text(
        json.dumps(
            [
                key_file_entry("ops-alice", Role.OPERATOR, OPERATOR_KEY),
                key_file_entry("finance-bob", Role.FINANCE, FINANCE_KEY),
            ]
        )
    )
    return path


@contextmanager
def serve_dashboard(env: dict[str, str], workdir: Path) -> Iterator[Dashboard]:
    """``uvicorn payout.dashboard.app:create_app`` on a free port with ``env`` (ledger, RPC);
    waits until the login page answers."""
    port = free_port()
    full = dict(os.environ)
    full.update(env)
    full["PAYOUT_DASHBOARD_KEYS"] = str(write_keys(workdir / "dashboard-keys.json"))
    full["PAYOUT_DASHBOARD_SECRET"] = os.urandom(32).hex()
    log = workdir / "dashboard.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "payout.dashboard.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the dashboard exited: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/dashboard/login", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not answer: {log.read_text()[-2000:]}")
            time.sleep(0.1)  # polling a starting server; the deadline bounds it
        yield Dashboard(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def browser() -> Iterator[Any]:
    """A Playwright browser context on Debian's chromium with a fresh profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as build/screens/NAME.png."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page: Any, base: str, key: str, next_path: str = "/dashboard/") -> None:
    """Log in through the form (keyboard: type the key, press Enter)."""
    page.goto(f"{base}{next_path}")
    page.get_by_label("API key").fill(key)
    page.get_by_label("API key").press("Enter")
    page.wait_for_url(f"{base}{next_path}*")
