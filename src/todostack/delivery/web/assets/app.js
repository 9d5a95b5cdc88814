// Todo Stack web page: TodoMVC markup and behaviour, plus lists, due dates, priorities, tags,
// search, sorting and keyboard reordering. Plain ES modules, no build step.
import { api, ApiError, Offline, onConnectivity } from "./api.js";
import * as changes from "./changes.js";
import * as live from "./live.js";

const $ = (selector, root = document) => root.querySelector(selector);
const state = { user: null, lists: [], listId: null, todos: [], sort: "order", q: "" };
const PRIORITIES = ["none", "low", "medium", "high"];

// ---- messages -------------------------------------------------------------------------------

let messageTimer = null;
function say(text) {
  const box = $("#message");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => { box.hidden = true; }, 8000);
}

onConnectivity(
  () => { $("#offline").hidden = true; },
  () => { $("#offline").hidden = false; },
);

function explain(error, what) {
  if (error instanceof Offline) return `${what}: the server is unreachable.`;
  if (error instanceof ApiError) {
    const fields = (error.problem?.errors || []).map((e) => `${e.field} ${e.message}`).join("; ");
    return `${what}: ${fields || error.message}`;
  }
  return `${what}: ${error}`;
}

// ---- parsing what people type ---------------------------------------------------------------

function parseEntry(text) {
  // "Buy milk #shop #today" -> title "Buy milk", tags ["shop", "today"]
  const tags = [];
  const title = text.replace(/(^|\s)#([^\s#]{1,40})/g, (_, space, tag) => { tags.push(tag); return space; });
  return { title: title.replace(/\s+/g, " ").trim(), tags: [...new Set(tags)].slice(0, 20) };
}

// ---- rendering ------------------------------------------------------------------------------

function route() {
  const hash = location.hash.replace(/^#/, "");
  return hash === "/active" ? "active" : hash === "/completed" ? "completed" : "all";
}

function visibleTodos() {
  const filter = route();
  return state.todos.filter((t) => filter === "all" || (filter === "active" ? !t.completed : t.completed));
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function dueText(due) {
  if (!due) return null;
  const date = new Date(due);
  return date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

let editing = null; // { id, version } of the todo whose title is being edited (and its version then)
const openDetails = new Set(); // ids whose details (due date, priority) are open
let rendering = false; // while the list is replaced, focus leaving an edit box is not a save

// An item's text is its title and nothing else (TodoMVC's suites compare it): badges show their
// words through CSS from a data attribute, controls carry no text, option words are labels.
function badge(className, text) {
  return el("span", { class: `badge ${className}`, dataset: { text } });
}

// What an item's element shows; while it stays the same, a render keeps the element (see placeItems).
const drawn = new WeakMap(); // li -> looks(todo) it was built from
const looks = (todo) => JSON.stringify([todo.title, todo.completed, todo.due, todo.priority, todo.tags]);

function renderTodo(todo) {
  const id = changes.realId(todo.id);
  const titleId = `title-${todo.id}`;
  const li = el("li", { class: todo.completed ? "completed" : "", dataset: { id: todo.id, testid: "todo-item" } });
  li.draggable = true;
  const described = (node) => { node.setAttribute("aria-describedby", titleId); return node; };
  const toggle = described(el("input", { class: "toggle", type: "checkbox", checked: todo.completed, "aria-label": "Toggle Todo" }));
  const label = el("label", { id: titleId, dataset: { testid: "todo-title" } }, todo.title);
  const meta = el("span", { class: "meta" });
  if (todo.due) meta.append(badge("due", `due ${dueText(todo.due)}`));
  if (todo.priority !== "none") meta.append(badge(`priority priority-${todo.priority}`, todo.priority));
  for (const tag of todo.tags) meta.append(badge("tag", `#${tag}`));
  const priority = el("select", { class: "set-priority", "aria-label": "Priority" },
    ...PRIORITIES.map((p) => el("option", { value: p, label: p, selected: p === todo.priority })));
  const due = el("input", { class: "set-due", type: "date", value: todo.due ? todo.due.slice(0, 10) : "", "aria-label": "Due date" });
  const summary = described(el("summary", { class: "details-toggle", "aria-label": "Details", title: "Due date and priority" }));
  const details = el("details", { class: "details" }, summary, el("span", { class: "controls" }, due, priority));
  details.open = openDetails.has(id);
  details.addEventListener("toggle", () => {
    const now = changes.realId(li.dataset.id); // the element outlives a temporary id
    if (details.open) openDetails.add(now); else openDetails.delete(now);
  });
  const destroy = described(el("button", { class: "destroy", "aria-label": "Delete", title: "Delete" }));
  const view = el("div", { class: "view" }, toggle, label, meta, details, destroy);
  const edit = described(el("input", { class: "edit", value: todo.title, "aria-label": "Edit", dataset: { testid: "text-input" } }));
  li.append(view, edit);
  drawn.set(li, looks(todo));
  return li;
}

// Brings a kept element up to date: the id the server gave a todo being created, and the values of
// controls a refused change may have left showing what was not saved. The edit box being typed in
// is left alone (render puts the draft back as it was).
function refreshTodo(li, todo, edited) {
  if (li.dataset.id !== todo.id) {
    li.dataset.id = todo.id;
    $("label", li).id = `title-${todo.id}`;
    for (const node of li.querySelectorAll("[aria-describedby]")) node.setAttribute("aria-describedby", `title-${todo.id}`);
  }
  $(".toggle", li).checked = todo.completed;
  $(".set-priority", li).value = todo.priority;
  $(".set-due", li).value = todo.due ? todo.due.slice(0, 10) : "";
  if (edited) return;
  li.classList.remove("editing");
  $(".edit", li).value = todo.title;
}

// Puts the items in the list in order, moving only elements that are out of place: an element left
// where it is keeps focus and a key or click in progress (a Space pressed on a toggle as a save
// lands must still toggle it on release, which a rebuilt checkbox would not).
function placeItems(list, items) {
  let at = list.firstChild;
  for (const li of items) {
    if (li === at) at = at.nextSibling;
    else list.insertBefore(li, at);
  }
  while (at) { const next = at.nextSibling; at.remove(); at = next; }
}

function render() {
  const list = state.lists.find((l) => l.id === state.listId);
  $("#list-title").textContent = list ? list.name : "todos";
  const lists = $("#lists");
  lists.replaceChildren(...state.lists.map((l) => {
    const button = el("button", { class: "list-button", dataset: { id: l.id } }, l.name);
    if (l.id === state.listId) button.setAttribute("aria-current", "true");
    return el("li", {}, button);
  }));

  const active = document.activeElement;
  const focusedLi = active?.closest?.(".todo-list li[data-id]");
  const focusedId = focusedLi ? changes.realId(focusedLi.dataset.id) : null;
  const focusedClass = focusedLi ? active.classList[0] || "toggle" : null;
  const draftBox = editing ? $(".todo-list li.editing .edit") : null;
  const draft = draftBox && { value: draftBox.value, start: draftBox.selectionStart, end: draftBox.selectionEnd, focused: draftBox === active };

  const todoList = $(".todo-list");
  const shown = new Map([...todoList.children].map((li) => [changes.realId(li.dataset.id), li]));
  const editedId = editing && changes.realId(editing.id);
  const items = visibleTodos().map((todo) => {
    const id = changes.realId(todo.id);
    const li = shown.get(id);
    shown.delete(id); // one element per todo, even while a created one shows under both its ids
    if (!li || drawn.get(li) !== looks(todo)) {
      // The element's details as they are now: its "toggle" event, which records them, comes a task
      // later, and a render in between (a change saved right after a click) would close them.
      if (li) { if ($(".details", li).open) openDetails.add(id); else openDetails.delete(id); }
      return renderTodo(todo);
    }
    refreshTodo(li, todo, id === editedId);
    return li;
  });
  rendering = true;
  try { placeItems(todoList, items); } finally { rendering = false; }
  const itemOf = (id) => items.find((li) => changes.realId(li.dataset.id) === changes.realId(id));

  // Whatever the person was doing survives a render: typing in an edit box, focus on a control.
  const editedLi = editing && itemOf(editing.id);
  if (editing && !editedLi) editing = null;
  if (editedLi) {
    editedLi.classList.add("editing");
    const box = $(".edit", editedLi);
    if (draft) box.value = draft.value;
    if (!draft || draft.focused) {
      box.focus();
      box.setSelectionRange(draft ? draft.start : box.value.length, draft ? draft.end : box.value.length);
    }
  } else if (focusedId) {
    const again = itemOf(focusedId);
    (again && ($(`.${focusedClass}`, again) || $(".toggle", again)))?.focus();
  }

  const total = state.todos.length;
  const left = state.todos.filter((t) => !t.completed).length;
  $(".main").hidden = total === 0;
  $(".footer").hidden = total === 0;
  $(".toggle-all").checked = total > 0 && left === 0;
  $(".todo-count").replaceChildren(el("strong", {}, String(left)), ` ${left === 1 ? "item" : "items"} left`);
  $(".clear-completed").hidden = total - left === 0;
  const current = route();
  for (const a of document.querySelectorAll(".filters a")) {
    const target = a.getAttribute("href") === "#/" ? "all" : a.getAttribute("href").slice(2);
    a.classList.toggle("selected", target === current);
    if (target === current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
}

function add(text) {
  const { title, tags } = parseEntry(text);
  if (!title) return;
  $("#new-todo").value = "";
  changes.create(title, tags, text);
}

function move(todo, step) {
  changes.move(todo, step);
  const id = changes.realId(todo.id);
  $(`.todo-list li[data-id="${id}"] .toggle, .todo-list li[data-id="${todo.id}"] .toggle`)?.focus();
}

// ---- loading --------------------------------------------------------------------------------

function showList(listId) {
  if (listId !== state.listId) { changes.leaveList(); editing = null; }
  state.listId = listId;
  return changes.loadTodos();
}

async function loadLists(preferId) {
  const { items } = await api.lists();
  state.lists = items;
  const keep = items.find((l) => l.id === (preferId || state.listId));
  await showList(keep ? keep.id : items[0]?.id || null);
}

async function showApp(user) {
  state.user = user;
  $("#who").textContent = user.email;
  changes.resumeOutbox(user); // queued ahead of the first load, which then shows their result
  await loadLists(); // before the page shows: nothing typed may race the first load
  live.start({ isNews: changes.isNews, reloadTodos: () => changes.loadTodos(), reloadLists: () => loadLists() });
  $("#auth").hidden = true;
  $("#app").hidden = false;
  $("#new-todo").focus();
  // The button that submitted the form may take focus back as it disappears: focus again after layout.
  requestAnimationFrame(() => { if (!$("#app").hidden) $("#new-todo").focus(); });
}

function showAuth() {
  state.user = null;
  $("#app").hidden = true;
  $("#auth").hidden = false;
  $("#auth-email").focus();
}

// ---- editing --------------------------------------------------------------------------------

function todoOf(node) {
  const li = node.closest("li[data-id]");
  return li ? state.todos.find(changes.isTodo(li.dataset.id)) : undefined;
}

function startEditing(li) {
  if (editing) finishEditing(true);
  const again = $(`.todo-list li[data-id="${li.dataset.id}"]`); // the save above may have rendered
  if (!again) return;
  editing = { id: again.dataset.id, version: state.todos.find(changes.isTodo(again.dataset.id))?.version };
  again.classList.add("editing");
  const box = $(".edit", again);
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
}

function finishEditing(save) {
  if (!editing) return;
  const box = $(".todo-list li.editing .edit");
  const todo = state.todos.find(changes.isTodo(editing.id));
  const from = editing.version;
  editing = null;
  if (!todo || !save || !box) { render(); return; }
  const title = box.value.trim();
  if (!title) changes.remove(todo);
  else if (title !== todo.title) changes.change(todo, { title }, "Could not rename", from);
  else render();
}

// ---- events ---------------------------------------------------------------------------------

function wire() {
  $("#auth-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter?.value || "sign-in";
    const email = $("#auth-email").value.trim();
    const password = $("#auth-password").value;
    const error = $("#auth-error");
    error.hidden = true;
    try {
      if (action === "sign-up") await api.signUp(email, password);
      await showApp(await api.signIn(email, password));
      $("#auth-password").value = "";
    } catch (e) {
      error.textContent = explain(e, action === "sign-up" ? "Could not create the account" : "Could not sign in");
      error.hidden = false;
    }
  });
  $("#sign-out").addEventListener("click", async () => {
    try { await api.signOut(); } catch (error) { say(explain(error, "Could not sign out")); return; }
    live.stop();
    changes.reset();
    state.todos = [];
    editing = null;
    showAuth();
  });

  $("#new-todo").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.isComposing) add(event.target.value);
  });

  const todoList = $(".todo-list");
  todoList.addEventListener("change", (event) => {
    const todo = todoOf(event.target);
    if (!todo) return;
    if (event.target.matches(".toggle")) changes.change(todo, { completed: event.target.checked }, "Could not update");
    if (event.target.matches(".set-priority")) changes.change(todo, { priority: event.target.value }, "Could not set the priority");
    if (event.target.matches(".set-due")) {
      const value = event.target.value;
      changes.change(todo, { due: value ? `${value}T00:00:00Z` : null }, "Could not set the due date");
    }
  });
  todoList.addEventListener("click", (event) => {
    if (event.target.matches(".destroy")) { const todo = todoOf(event.target); if (todo) changes.remove(todo); }
  });
  todoList.addEventListener("dblclick", (event) => {
    // Anywhere on the item's row but its controls (TodoMVC's suites double-click the item itself).
    const li = event.target.closest("li[data-id]");
    if (li && !li.classList.contains("editing") && !event.target.closest("input, button, select, details")) startEditing(li);
  });
  todoList.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target.matches(".edit")) {
      if (event.key === "Enter") finishEditing(true);
      else if (event.key === "Escape") finishEditing(false);
      return;
    }
    const todo = todoOf(target);
    if (!todo) return;
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      event.preventDefault();
      move(todo, event.key === "ArrowUp" ? -1 : 1);
    } else if (event.key === "F2" || (event.key === "Enter" && target.matches(".toggle"))) {
      event.preventDefault();
      startEditing(target.closest("li"));
    }
  });
  // Leaving the edit box saves: "blur" (which does not bubble, hence the capture) and "focusout"
  // both count, whichever comes first; the second finds nothing left to save.
  const leaveEdit = (event) => {
    if (!rendering && event.target.matches(".edit") && event.target.closest("li.editing")) finishEditing(true);
  };
  todoList.addEventListener("blur", leaveEdit, true);
  todoList.addEventListener("focusout", leaveEdit);
  let dragged = null;
  todoList.addEventListener("dragstart", (event) => { dragged = todoOf(event.target); });
  todoList.addEventListener("dragover", (event) => event.preventDefault());
  todoList.addEventListener("drop", (event) => {
    event.preventDefault();
    const target = todoOf(event.target);
    if (!dragged || !target || dragged === target) return;
    const step = state.todos.indexOf(target) - state.todos.indexOf(dragged);
    const todo = dragged;
    dragged = null;
    for (let i = 0; i < Math.abs(step); i++) move(todo, Math.sign(step));
  });

  $(".toggle-all").addEventListener("change", (event) => changes.setAll(event.target.checked));
  $(".clear-completed").addEventListener("click", changes.clearCompleted);

  $("#lists").addEventListener("click", (event) => {
    const button = event.target.closest(".list-button");
    if (!button) return;
    showList(button.dataset.id);
  });
  $("#new-list-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("#new-list");
    const name = input.value.trim();
    if (!name) return;
    try {
      const created = await api.createList(name);
      input.value = "";
      await loadLists(created.id);
    } catch (error) { say(explain(error, "Could not create the list")); }
  });
  $("#rename-list").addEventListener("click", async () => {
    const list = state.lists.find((l) => l.id === state.listId);
    if (!list) return;
    const name = prompt("New name for the list", list.name);
    if (!name || !name.trim() || name.trim() === list.name) return;
    try { await api.renameList(list, name.trim()); await loadLists(list.id); } catch (error) {
      say(explain(error, "Could not rename the list"));
      await loadLists(list.id);
    }
  });
  $("#delete-list").addEventListener("click", async () => {
    const list = state.lists.find((l) => l.id === state.listId);
    if (!list || !confirm(`Delete the list “${list.name}” and all its todos?`)) return;
    try { await api.deleteList(list); await loadLists(); } catch (error) { say(explain(error, "Could not delete the list")); }
  });

  let searchTimer = null;
  $("#search").addEventListener("input", (event) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { state.q = event.target.value.trim(); changes.loadTodos(); }, 200);
  });
  $("#sort").addEventListener("change", (event) => { state.sort = event.target.value; changes.loadTodos(); });
  window.addEventListener("hashchange", render);
  // Pending changes are kept for the next page (the outbox); only while the server cannot be
  // reached might they never be saved: then let the browser ask first.
  window.addEventListener("pagehide", changes.saveOutbox);
  window.addEventListener("beforeunload", (event) => {
    if (changes.unsentChanges() > 0 && !$("#offline").hidden) event.preventDefault();
    else { changes.leave(); live.stop(); }
  });
}

async function start() {
  wire();
  try {
    await showApp(await api.me());
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showAuth();
    else { showAuth(); say(explain(error, "Could not reach the service")); }
  }
}


changes.connect({ state, render, say, explain, refill: (text) => { const input = $("#new-todo"); if (!input.value) input.value = text; } });
start();
