"""Playwright's TodoMVC demo suite, ported: the page must pass the checks written for any TodoMVC.

The 24 behaviours of Playwright's public `demo-todo-app.spec.ts`, with its locators (placeholder,
test ids, roles and accessible names) and its expectations, in our own code. Two departures only:
each test first signs up a new person (the page is a service, not a localStorage demo), and the
reference app's localStorage checks are left out. Nothing here waits for the server: every
expectation must hold while the page's saves are still on their way, as the suite assumes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.server import RunningServer, run_server

pytestmark = pytest.mark.browser
# A shared 2-core CI machine can be slow to paint; waiting longer is not a speed claim.
expect.set_options(timeout=15_000)

TODO_ITEMS = ["buy some cheese", "feed the cat", "book a doctors appointment"]
NEW_TODO = "What needs to be done?"


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("todomvc")
    with run_server(f"sqlite:///{tmp}/todomvc.db", tmp) as running:
        yield running


@pytest.fixture
def page(browser: Browser, web: RunningServer) -> Iterator[Page]:
    """The suite's beforeEach (open the app), preceded by the one step a service needs: sign up."""
    context = browser.new_context(base_url=web.url)
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto("/")
    tab.get_by_label("Email").fill(f"mvc-{uuid.uuid4().hex[:10]}@example.com")
    tab.get_by_label("Password").fill("pass-word-12")
    tab.get_by_role("button", name="Create account").click()
    expect(tab.get_by_placeholder(NEW_TODO)).to_be_visible()
    yield tab
    context.close()
    assert not errors, f"the page threw: {errors}"


def create_default_todos(page: Page) -> None:
    new_todo = page.get_by_placeholder(NEW_TODO)
    for item in TODO_ITEMS:
        new_todo.fill(item)
        new_todo.press("Enter")


def add_two(page: Page) -> None:
    new_todo = page.get_by_placeholder(NEW_TODO)
    for item in TODO_ITEMS[:2]:
        new_todo.fill(item)
        new_todo.press("Enter")


class TestNewTodo:
    def test_should_allow_me_to_add_todo_items(self, page: Page) -> None:
        new_todo = page.get_by_placeholder(NEW_TODO)
        new_todo.fill(TODO_ITEMS[0])
        new_todo.press("Enter")
        expect(page.get_by_test_id("todo-title")).to_have_text([TODO_ITEMS[0]])
        new_todo.fill(TODO_ITEMS[1])
        new_todo.press("Enter")
        expect(page.get_by_test_id("todo-title")).to_have_text(TODO_ITEMS[:2])

    def test_should_clear_text_input_field_when_an_item_is_added(self, page: Page) -> None:
        new_todo = page.get_by_placeholder(NEW_TODO)
        new_todo.fill(TODO_ITEMS[0])
        new_todo.press("Enter")
        expect(new_todo).to_be_empty()

    def test_should_append_new_items_to_the_bottom_of_the_list(self, page: Page) -> None:
        create_default_todos(page)
        count = page.get_by_test_id("todo-count")
        expect(page.get_by_text("3 items left")).to_be_visible()
        expect(count).to_have_text("3 items left")
        expect(count).to_contain_text("3")
        expect(count).to_have_text(re.compile("3"))
        expect(page.get_by_test_id("todo-title")).to_have_text(TODO_ITEMS)


class TestMarkAllAsCompleted:
    @pytest.fixture(autouse=True)
    def _three_todos(self, page: Page) -> None:
        create_default_todos(page)

    def test_should_allow_me_to_mark_all_items_as_completed(self, page: Page) -> None:
        page.get_by_label("Mark all as complete").check()
        expect(page.get_by_test_id("todo-item")).to_have_class(["completed", "completed", "completed"])

    def test_should_allow_me_to_clear_the_complete_state_of_all_items(self, page: Page) -> None:
        toggle_all = page.get_by_label("Mark all as complete")
        toggle_all.check()
        toggle_all.uncheck()
        expect(page.get_by_test_id("todo-item")).to_have_class(["", "", ""])

    def test_complete_all_checkbox_should_update_state_when_items_are_completed_or_cleared(self, page: Page) -> None:
        toggle_all = page.get_by_label("Mark all as complete")
        toggle_all.check()
        expect(toggle_all).to_be_checked()
        first = page.get_by_test_id("todo-item").nth(0)
        first.get_by_role("checkbox").uncheck()
        expect(toggle_all).not_to_be_checked()
        first.get_by_role("checkbox").check()
        expect(toggle_all).to_be_checked()


class TestItem:
    def test_should_allow_me_to_mark_items_as_complete(self, page: Page) -> None:
        add_two(page)
        first = page.get_by_test_id("todo-item").nth(0)
        first.get_by_role("checkbox").check()
        expect(first).to_have_class("completed")
        second = page.get_by_test_id("todo-item").nth(1)
        expect(second).not_to_have_class("completed")
        second.get_by_role("checkbox").check()
        expect(first).to_have_class("completed")
        expect(second).to_have_class("completed")

    def test_should_allow_me_to_un_mark_items_as_complete(self, page: Page) -> None:
        add_two(page)
        first = page.get_by_test_id("todo-item").nth(0)
        second = page.get_by_test_id("todo-item").nth(1)
        checkbox = first.get_by_role("checkbox")
        checkbox.check()
        expect(first).to_have_class("completed")
        expect(second).not_to_have_class("completed")
        checkbox.uncheck()
        expect(first).not_to_have_class("completed")
        expect(second).not_to_have_class("completed")

    def test_should_allow_me_to_edit_an_item(self, page: Page) -> None:
        create_default_todos(page)
        items = page.get_by_test_id("todo-item")
        second = items.nth(1)
        second.dblclick()
        edit = second.get_by_role("textbox", name="Edit")
        expect(edit).to_have_value(TODO_ITEMS[1])
        edit.fill("buy some sausages")
        edit.press("Enter")
        expect(items).to_have_text([TODO_ITEMS[0], "buy some sausages", TODO_ITEMS[2]])


class TestEditing:
    @pytest.fixture(autouse=True)
    def _three_todos(self, page: Page) -> None:
        create_default_todos(page)

    def test_should_hide_other_controls_when_editing(self, page: Page) -> None:
        item = page.get_by_test_id("todo-item").nth(1)
        item.dblclick()
        expect(item.get_by_role("checkbox")).not_to_be_visible()
        expect(item.locator("label", has_text=TODO_ITEMS[1])).not_to_be_visible()

    def test_should_save_edits_on_blur(self, page: Page) -> None:
        items = page.get_by_test_id("todo-item")
        items.nth(1).dblclick()
        items.nth(1).get_by_role("textbox", name="Edit").fill("buy some sausages")
        items.nth(1).get_by_role("textbox", name="Edit").dispatch_event("blur")
        expect(items).to_have_text([TODO_ITEMS[0], "buy some sausages", TODO_ITEMS[2]])

    def test_should_trim_entered_text(self, page: Page) -> None:
        items = page.get_by_test_id("todo-item")
        items.nth(1).dblclick()
        items.nth(1).get_by_role("textbox", name="Edit").fill("    buy some sausages    ")
        items.nth(1).get_by_role("textbox", name="Edit").press("Enter")
        expect(items).to_have_text([TODO_ITEMS[0], "buy some sausages", TODO_ITEMS[2]])

    def test_should_remove_the_item_if_an_empty_text_string_was_entered(self, page: Page) -> None:
        items = page.get_by_test_id("todo-item")
        items.nth(1).dblclick()
        items.nth(1).get_by_role("textbox", name="Edit").fill("")
        items.nth(1).get_by_role("textbox", name="Edit").press("Enter")
        expect(items).to_have_text([TODO_ITEMS[0], TODO_ITEMS[2]])

    def test_should_cancel_edits_on_escape(self, page: Page) -> None:
        items = page.get_by_test_id("todo-item")
        items.nth(1).dblclick()
        items.nth(1).get_by_role("textbox", name="Edit").fill("buy some sausages")
        items.nth(1).get_by_role("textbox", name="Edit").press("Escape")
        expect(items).to_have_text(TODO_ITEMS)


class TestCounter:
    def test_should_display_the_current_number_of_todo_items(self, page: Page) -> None:
        new_todo = page.get_by_placeholder(NEW_TODO)
        count = page.get_by_test_id("todo-count")
        new_todo.fill(TODO_ITEMS[0])
        new_todo.press("Enter")
        expect(count).to_contain_text("1")
        new_todo.fill(TODO_ITEMS[1])
        new_todo.press("Enter")
        expect(count).to_contain_text("2")


class TestClearCompletedButton:
    @pytest.fixture(autouse=True)
    def _three_todos(self, page: Page) -> None:
        create_default_todos(page)

    def test_should_display_the_correct_text(self, page: Page) -> None:
        page.locator(".todo-list li .toggle").first.check()
        expect(page.get_by_role("button", name="Clear completed")).to_be_visible()

    def test_should_remove_completed_items_when_clicked(self, page: Page) -> None:
        items = page.get_by_test_id("todo-item")
        items.nth(1).get_by_role("checkbox").check()
        page.get_by_role("button", name="Clear completed").click()
        expect(items).to_have_count(2)
        expect(items).to_have_text([TODO_ITEMS[0], TODO_ITEMS[2]])

    def test_should_be_hidden_when_there_are_no_items_that_are_completed(self, page: Page) -> None:
        page.locator(".todo-list li .toggle").first.check()
        page.get_by_role("button", name="Clear completed").click()
        expect(page.get_by_role("button", name="Clear completed")).to_be_hidden()


class TestPersistence:
    def test_should_persist_its_data(self, page: Page) -> None:
        add_two(page)
        items = page.get_by_test_id("todo-item")
        first_check = items.nth(0).get_by_role("checkbox")
        first_check.check()
        expect(items).to_have_text(TODO_ITEMS[:2])
        expect(first_check).to_be_checked()
        expect(items).to_have_class(["completed", ""])
        page.reload()
        expect(items).to_have_text(TODO_ITEMS[:2])
        expect(first_check).to_be_checked()
        expect(items).to_have_class(["completed", ""])


class TestRouting:
    @pytest.fixture(autouse=True)
    def _three_todos(self, page: Page) -> None:
        create_default_todos(page)

    def test_should_allow_me_to_display_active_items(self, page: Page) -> None:
        items = page.get_by_test_id("todo-item")
        items.nth(1).get_by_role("checkbox").check()
        page.get_by_role("link", name="Active").click()
        expect(items).to_have_count(2)
        expect(items).to_have_text([TODO_ITEMS[0], TODO_ITEMS[2]])

    def test_should_respect_the_back_button(self, page: Page) -> None:
        items = page.get_by_test_id("todo-item")
        items.nth(1).get_by_role("checkbox").check()
        page.get_by_role("link", name="All").click()
        expect(items).to_have_count(3)
        page.get_by_role("link", name="Active").click()
        page.get_by_role("link", name="Completed").click()
        expect(items).to_have_count(1)
        page.go_back()
        expect(items).to_have_count(2)
        page.go_back()
        expect(items).to_have_count(3)

    def test_should_allow_me_to_display_completed_items(self, page: Page) -> None:
        page.get_by_test_id("todo-item").nth(1).get_by_role("checkbox").check()
        page.get_by_role("link", name="Completed").click()
        expect(page.get_by_test_id("todo-item")).to_have_count(1)

    def test_should_allow_me_to_display_all_items(self, page: Page) -> None:
        page.get_by_test_id("todo-item").nth(1).get_by_role("checkbox").check()
        page.get_by_role("link", name="Active").click()
        page.get_by_role("link", name="Completed").click()
        page.get_by_role("link", name="All").click()
        expect(page.get_by_test_id("todo-item")).to_have_count(3)

    def test_should_highlight_the_currently_applied_filter(self, page: Page) -> None:
        expect(page.get_by_role("link", name="All")).to_have_class("selected")
        active = page.get_by_role("link", name="Active")
        completed = page.get_by_role("link", name="Completed")
        active.click()
        expect(active).to_have_class("selected")
        completed.click()
        expect(completed).to_have_class("selected")
