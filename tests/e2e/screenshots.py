"""Screenshots of the page, light and dark: `make screenshots` writes them to docs/."""

from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.e2e.browser import chromium
from tests.server import run_server


def capture(browser: Browser, url: str, folder: Path, scheme: str) -> Path:
    context = browser.new_context(base_url=url, color_scheme=scheme, viewport={"width": 1100, "height": 640})  # type: ignore[arg-type]
    page = context.new_page()
    page.goto("/")
    page.get_by_label("Email").fill(f"shot-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password").fill("pass-word-12")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".new-todo")).to_be_visible()
    for n, title in enumerate(("Buy oat milk #shop", "Call the plumber", "Write the quarterly report #work"), 1):
        page.locator(".new-todo").fill(title)
        page.locator(".new-todo").press("Enter")
        expect(page.locator(".todo-list li:not([data-id^=pending])")).to_have_count(n)
    items = page.locator(".todo-list li")
    for n, (field, value) in ((2, ("Priority", "high")), (1, ("Due date", "2030-05-17"))):
        items.nth(n).get_by_label("Details").click()  # due date and priority live behind it
        control = items.nth(n).get_by_label(field)
        if field == "Priority":
            control.select_option(value)
        else:
            control.fill(value)
        items.nth(n).get_by_label("Details").click()
    items.nth(0).locator(".toggle").check()
    expect(page.locator(".todo-count")).to_have_text("2 items left")
    expect(items.nth(1).locator(".due")).to_be_visible()
    expect(items.nth(2).locator(".priority")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("aria-busy", "false")
    path = folder / f"screenshot-{scheme}.png"
    page.screenshot(path=str(path))
    context.close()
    return path


def main(target: str) -> None:
    out = Path(target)
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_server(f"sqlite:///{tmp}/shots.db", Path(tmp)) as server,
        chromium() as browser,
    ):
        for scheme in ("light", "dark"):
            print(capture(browser, server.url, out, scheme))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs")
