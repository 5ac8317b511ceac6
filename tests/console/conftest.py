"""A real browser (Debian's chromium driven by Playwright) against the app served by Chalice's local server,
with DynamoDB on moto behind it."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from chalice.config import Config
from chalice.local import LocalDevServer
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from app import app
from chalicelib import bootstrap
from chalicelib.services.context import Context
from tests.conftest import World, make_context

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"desktop": (1366, 900), "phone": (375, 812)}
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert os.path.exists(CHROMIUM), "Debian's chromium is installed by `make test` (scripts/install-system-deps)"
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    yield browser
    browser.close()


@pytest.fixture
def console_ctx(moto_url: str) -> Iterator[Context]:
    ctx = make_context("dynamodb", moto_url)
    bootstrap.use(ctx)
    yield ctx
    bootstrap.use(None)


@pytest.fixture
def console_world(console_ctx: Context) -> World:
    return World(console_ctx)


@pytest.fixture
def base_url(console_ctx: Context) -> Iterator[str]:
    port = _free_port()
    server = LocalDevServer(app, Config.create(chalice_stage="local"), "127.0.0.1", port)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/console"
    server.shutdown()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url + "/", viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(params=list(WIDTHS))
def checked_page(request: pytest.FixtureRequest, browser: Browser, base_url: str) -> Iterator[tuple[Page, str]]:
    assert AXE.exists(), "axe-core is installed by `make test` (scripts/install-system-deps.sh: npm ci)"
    width, height = WIDTHS[request.param]
    # the console's CSP admits its own scripts only: the checking script is injected past it, as a tool would
    context = browser.new_context(base_url=base_url + "/", viewport={"width": width, "height": height},
                                  bypass_csp=True)  # fmt: skip
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab, request.param
    context.close()


def violations(page: Page) -> list[dict[str, object]]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]} for v in found]
