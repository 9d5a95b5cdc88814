"""The page stays live across tabs: two browser contexts of one person see each other's changes
within a second; another person sees nothing of them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_web import add, settle, sign_in, sign_up
from tests.server import RunningServer, run_postgres_server, run_server

pytestmark = pytest.mark.browser

LIVE = 1_000  # ms: how soon a change made in one tab shows in the other


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Two workers: the tabs' streams and writes land on different processes as often as not."""
    tmp = tmp_path_factory.mktemp(f"live-{request.param}")
    if request.param == "sqlite":
        with run_server(f"sqlite:///{tmp}/live.db", tmp, workers=2) as running:
            yield running
        return
    with run_postgres_server(tmp, workers=2) as running:
        yield running


def _tab(browser: Browser, server: RunningServer) -> Page:
    return browser.new_context(base_url=server.url).new_page()


def _live(page: Page) -> None:
    expect(page.locator("body")).to_have_attribute("data-live", "on")


def test_two_tabs_of_one_person_see_each_others_changes_within_a_second(
    browser: Browser, live_server: RunningServer
) -> None:
    email = f"live-{uuid.uuid4().hex[:10]}@example.com"
    laptop = _tab(browser, live_server)
    sign_up(laptop, email)
    phone = _tab(browser, live_server)
    phone.goto("/")
    sign_in(phone, email)
    stranger = _tab(browser, live_server)
    sign_up(stranger, f"other-{uuid.uuid4().hex[:10]}@example.com")
    for tab in (laptop, phone, stranger):
        _live(tab)
    laptop_items, phone_items = laptop.get_by_test_id("todo-item"), phone.get_by_test_id("todo-item")
    # Adds, both ways.
    add(laptop, "from the laptop")
    expect(phone.get_by_test_id("todo-title")).to_have_text(["from the laptop"], timeout=LIVE)
    add(phone, "from the phone")
    expect(laptop.get_by_test_id("todo-title")).to_have_text(["from the laptop", "from the phone"], timeout=LIVE)
    # A toggle.
    laptop_items.nth(0).get_by_label("Toggle Todo").check()
    settle(laptop)
    expect(phone_items.nth(0)).to_have_class("completed", timeout=LIVE)
    expect(phone.get_by_test_id("todo-count")).to_have_text("1 item left", timeout=LIVE)
    # A reorder (Alt+ArrowDown on the first item).
    phone_items.nth(0).get_by_label("Toggle Todo").focus()
    phone.keyboard.press("Alt+ArrowDown")
    settle(phone)
    expect(laptop.get_by_test_id("todo-title")).to_have_text(["from the phone", "from the laptop"], timeout=LIVE)
    # A delete.
    laptop_items.nth(0).hover()
    laptop_items.nth(0).get_by_role("button", name="Delete").click()
    settle(laptop)
    expect(phone.get_by_test_id("todo-title")).to_have_text(["from the laptop"], timeout=LIVE)
    # The stranger saw none of it.
    expect(stranger.get_by_test_id("todo-item")).to_have_count(0)
    for tab in (laptop, phone, stranger):
        tab.context.close()


def test_a_remote_change_does_not_clobber_what_is_being_typed(browser: Browser, live_server: RunningServer) -> None:
    email = f"live-{uuid.uuid4().hex[:10]}@example.com"
    laptop = _tab(browser, live_server)
    sign_up(laptop, email)
    add(laptop, "first", "second")
    phone = _tab(browser, live_server)
    phone.goto("/")
    sign_in(phone, email)
    _live(phone)
    _live(laptop)
    # Half-typed on the laptop: a new todo and an edit of another one.
    laptop.locator(".new-todo").fill("half typed")
    item = laptop.get_by_test_id("todo-item").nth(1)
    item.get_by_test_id("todo-title").dblclick()
    item.get_by_role("textbox", name="Edit").fill("second, edited")
    add(phone, "added on the phone")
    expect(laptop.get_by_test_id("todo-title")).to_have_text(["first", "second", "added on the phone"], timeout=LIVE)
    expect(item.get_by_role("textbox", name="Edit")).to_have_value("second, edited")
    expect(item.get_by_role("textbox", name="Edit")).to_be_focused()
    expect(laptop.locator(".new-todo")).to_have_value("half typed")
    item.get_by_role("textbox", name="Edit").press("Enter")
    expect(phone.get_by_test_id("todo-title")).to_have_text(
        ["first", "second, edited", "added on the phone"], timeout=LIVE
    )
    for tab in (laptop, phone):
        tab.context.close()
