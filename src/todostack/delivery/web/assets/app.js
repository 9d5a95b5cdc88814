// Todo Stack web page: TodoMVC markup and behaviour, plus lists, due dates, priorities, tags,
// search, sorting and keyboard reordering. Plain ES modules, no build step.
import { api, ApiError, hold, Offline, onConnectivity } from "./api.js";

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

// The page's own record of the todos the server has confirmed, and the changes shown on the page
// that it has not confirmed yet (see "changing todos" below).
let serverTodos = []; // the current list, as the server last described it
const known = new Map(); // id -> the server's latest copy of any todo seen (its version is what If-Match sends)
const aliases = new Map(); // temporary id of a todo being created -> the id the server gave it
const realId = (id) => aliases.get(id) ?? id;
const isTodo = (id) => (t) => t.id === id || t.id === realId(id);

let editing = null; // { id } of the todo whose title is being edited
const openDetails = new Set(); // ids whose details (due date, priority) are open
let rendering = false; // while the list is replaced, focus leaving an edit box is not a save

// An item's text is its title and nothing else (TodoMVC's suites compare it): badges show their
// words through CSS from a data attribute, controls carry no text, option words are labels.
function badge(className, text) {
  return el("span", { class: `badge ${className}`, dataset: { text } });
}

function renderTodo(todo) {
  const id = realId(todo.id);
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
  details.addEventListener("toggle", () => { if (details.open) openDetails.add(id); else openDetails.delete(id); });
  const destroy = described(el("button", { class: "destroy", "aria-label": "Delete", title: "Delete" }));
  const view = el("div", { class: "view" }, toggle, label, meta, details, destroy);
  const edit = described(el("input", { class: "edit", value: todo.title, "aria-label": "Edit", dataset: { testid: "text-input" } }));
  li.append(view, edit);
  return li;
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
  const focusedId = focusedLi ? realId(focusedLi.dataset.id) : null;
  const focusedClass = focusedLi ? active.classList[0] || "toggle" : null;
  const draftBox = editing ? $(".todo-list li.editing .edit") : null;
  const draft = draftBox && { value: draftBox.value, start: draftBox.selectionStart, end: draftBox.selectionEnd, focused: draftBox === active };

  const items = visibleTodos().map(renderTodo);
  rendering = true;
  try { $(".todo-list").replaceChildren(...items); } finally { rendering = false; }
  const itemOf = (id) => items.find((li) => realId(li.dataset.id) === realId(id));

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

// ---- changing todos -------------------------------------------------------------------------
//
// Every change shows at once: the page shows the server's copy of the list with the changes not
// yet confirmed applied on top, in the order they were made. The changes reach the server one at
// a time, in that same order, each built from the server's latest copy when it leaves (so a todo
// still being created has its real id by then, and If-Match carries the latest version). A change
// the server refuses simply drops out of the pending ones, which puts the todo back as the server
// has it. Reloading the list is queued the same way, so an answer can never be older than a change.

const pendingOps = [];
let queue = Promise.resolve();
let unsent = 0; // queued changes that have not left yet (leaving the page would lose them)

function refresh() {
  state.todos = pendingOps.filter((op) => op.listId === state.listId).reduce((todos, op) => op.apply(todos), serverTodos);
  render();
}

function confirmTodo(todo) {
  known.set(todo.id, todo);
  const i = serverTodos.findIndex((t) => t.id === todo.id);
  if (i >= 0) serverTodos[i] = todo;
}

function forget(id) {
  known.delete(id);
  serverTodos = serverTodos.filter((t) => t.id !== id);
}

function submit(op) {
  op.listId ??= state.listId;
  if (op.apply) pendingOps.push(op);
  refresh();
  const counted = op.apply ? 1 : 0;
  unsent += counted;
  queue = queue.then(async () => {
    unsent -= counted;
    try {
      await op.send();
    } catch (error) {
      say(explain(error, op.what || "Could not save"));
    } finally {
      const i = pendingOps.indexOf(op);
      if (i >= 0) pendingOps.splice(i, 1);
      refresh();
    }
  });
  hold(queue);
  return queue;
}

async function reloadServer(listId) {
  if (!listId || listId !== state.listId) return;
  const { sort, q } = state;
  try {
    const fresh = await api.todos(listId, { sort, q });
    if (listId !== state.listId || sort !== state.sort || q !== state.q) return;
    serverTodos = fresh;
    for (const t of fresh) known.set(t.id, t);
  } catch (error) {
    say(explain(error, "Could not load the todos"));
  }
}

// Each change is a plain record (so the ones not yet confirmed can outlive a reload, see the
// outbox below) turned into an operation: how it looks on the page, and how it is sent.
const operations = {
  create(r, { replayed }) {
    return {
      apply: (todos) => [...todos, r.temp],
      async send() {
        try {
          const created = await api.createTodo({ title: r.temp.title, tags: r.temp.tags, list_id: r.listId }, r.key);
          aliases.set(r.temp.id, created.id);
          known.set(created.id, created);
          if (r.listId === state.listId && !serverTodos.some((t) => t.id === created.id)) serverTodos.push(created);
        } catch (error) {
          if (replayed && error instanceof ApiError && error.status === 409) return; // deleted since
          const input = $("#new-todo");
          if (!replayed && !input.value) input.value = r.text; // nothing typed is lost
          say(explain(error, "Could not add the todo"));
        }
      },
    };
  },
  change(r) {
    return {
      apply: (todos) => todos.map((t) => (isTodo(r.id)(t) ? { ...t, ...r.changes } : t)),
      async send() {
        const base = await latest(r.id);
        if (!base) return; // its creation was refused, or it is gone
        try {
          confirmTodo(await api.patchTodo(base, r.changes));
        } catch (error) {
          if (error instanceof ApiError && error.status === 412) {
            try { confirmTodo(await api.todo(base.id)); } catch { /* the message below still applies */ }
            const typed = r.changes.title !== undefined ? ` Your text “${r.changes.title}” was not saved; edit again to apply it.` : "";
            say(`“${base.title}” was changed somewhere else, so it was reloaded.${typed}`);
          } else if (error instanceof ApiError && error.status === 404) {
            forget(base.id);
            say(`“${base.title}” no longer exists.`);
          } else {
            say(explain(error, r.what));
          }
        }
      },
    };
  },
  remove(r) {
    return {
      apply: (todos) => todos.filter((t) => !isTodo(r.id)(t)),
      async send() {
        const base = await latest(r.id);
        if (!base) return;
        try {
          await api.deleteTodo(base);
          forget(base.id);
        } catch (error) {
          if (error instanceof ApiError && error.status === 404) { forget(base.id); return; }
          if (error instanceof ApiError && error.status === 412) {
            say(`“${base.title}” was changed somewhere else, so it was not deleted.`);
            try { confirmTodo(await api.todo(base.id)); } catch { /* keep the copy we have */ }
          } else {
            say(explain(error, "Could not delete"));
          }
        }
      },
    };
  },
  setAll(r) {
    return {
      apply: (todos) => todos.map((t) => ({ ...t, completed: r.completed })),
      async send() {
        try {
          if (r.completed) await api.completeAll(r.listId);
          else {
            const done = r.listId === state.listId ? serverTodos.filter((t) => t.completed) : [];
            for (const t of done) confirmTodo(await api.patchTodo(known.get(t.id) || t, { completed: false }));
          }
        } catch (error) {
          say(explain(error, r.completed ? "Could not complete all" : "Could not reopen"));
        }
        await reloadServer(r.listId);
      },
    };
  },
  clearCompleted(r) {
    return {
      apply: (todos) => todos.filter((t) => !t.completed),
      async send() {
        try { await api.clearCompleted(r.listId); } catch (error) { say(explain(error, "Could not clear completed todos")); }
        await reloadServer(r.listId);
      },
    };
  },
  reorder(r) {
    return {
      apply: (todos) => inOrder(todos, r.ids),
      what: "Could not move the todo",
      async send() {
        const real = r.ids.map(realId).filter((id) => known.has(id));
        const { items } = await api.reorder(r.listId, real);
        for (const t of items) confirmTodo(t);
        if (r.listId === state.listId) serverTodos = inOrder(serverTodos, real);
      },
    };
  },
};

function record(r, { replayed = false } = {}) {
  return submit({ listId: r.listId, record: r, ...operations[r.kind](r, { replayed }) });
}

// The server's latest copy of a todo: known from a load, else asked for (a replayed change may
// come before the first load). Null for a todo whose creation was refused, or one that is gone.
async function latest(id) {
  const rid = realId(id);
  if (known.has(rid)) return known.get(rid);
  if (rid.startsWith("pending-")) return null;
  try {
    const todo = await api.todo(rid);
    known.set(todo.id, todo);
    return todo;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

function change(todo, changes, what) {
  return record({ kind: "change", listId: state.listId, id: todo.id, changes, what });
}

function remove(todo) {
  return record({ kind: "remove", listId: state.listId, id: todo.id });
}

const setAll = (completed) => record({ kind: "setAll", listId: state.listId, completed });
const clearCompleted = () => record({ kind: "clearCompleted", listId: state.listId });

// Unique across reloads of this tab (a replayed change may name a todo created before the reload).
const session = Date.now().toString(36);
let pendingSeq = 0;

function randomKey() {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function add(text) {
  const { title, tags } = parseEntry(text);
  if (!title) return;
  const temp = { id: `pending-${session}-${++pendingSeq}`, title, tags, completed: false, priority: "none", due: null, version: 0 };
  $("#new-todo").value = "";
  // The key makes the creation safe to send again: a replay after a reload gets the same todo.
  record({ kind: "create", listId: state.listId, temp, text, key: randomKey() });
}

function inOrder(todos, ids) {
  const rank = new Map(ids.map((id, i) => [realId(id), i]));
  const at = (t) => rank.get(t.id) ?? ids.length;
  return [...todos].sort((a, b) => at(a) - at(b));
}

function move(todo, step) {
  if (state.sort !== "order") { say("Switch to manual order to move todos."); return queue; }
  const i = state.todos.findIndex(isTodo(todo.id));
  const j = i + step;
  if (i < 0 || j < 0 || j >= state.todos.length) return queue;
  const ids = state.todos.map((t) => t.id);
  [ids[i], ids[j]] = [ids[j], ids[i]];
  const done = record({ kind: "reorder", listId: state.listId, ids });
  $(`.todo-list li[data-id="${realId(todo.id)}"] .toggle, .todo-list li[data-id="${todo.id}"] .toggle`)?.focus();
  return done;
}

// ---- the outbox: changes not yet confirmed outlive a reload --------------------------------------
//
// Leaving the page saves the records of the pending changes in this tab's sessionStorage; the
// next page, signed in as the same person, sends them again before its first load. Sending again
// is safe: a creation carries its Idempotency-Key, and the other changes set values (or delete)
// from the server's latest copy. Saves already on their way finish anyway (keepalive).

const OUTBOX = "todostack.outbox";

function saveOutbox() {
  const records = pendingOps.map((op) => op.record).filter(Boolean);
  if (state.user && records.length) sessionStorage.setItem(OUTBOX, JSON.stringify({ user: state.user.id, records }));
  else sessionStorage.removeItem(OUTBOX);
}

function resumeOutbox(user) {
  let saved = null;
  try { saved = JSON.parse(sessionStorage.getItem(OUTBOX) || "null"); } catch { saved = null; }
  sessionStorage.removeItem(OUTBOX);
  if (!saved || saved.user !== user.id || !Array.isArray(saved.records)) return;
  for (const r of saved.records) if (operations[r?.kind]) record(r, { replayed: true });
}

// ---- loading --------------------------------------------------------------------------------

function loadTodos() {
  const listId = state.listId;
  if (!listId) { serverTodos = []; refresh(); return queue; }
  return submit({ listId, send: () => reloadServer(listId) });
}

function showList(listId) {
  if (listId !== state.listId) { serverTodos = []; editing = null; }
  state.listId = listId;
  return loadTodos();
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
  resumeOutbox(user); // queued ahead of the first load, which then shows their result
  await loadLists(); // before the page shows: nothing typed may race the first load
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
  return li ? state.todos.find(isTodo(li.dataset.id)) : undefined;
}

function startEditing(li) {
  if (editing) finishEditing(true);
  const again = $(`.todo-list li[data-id="${li.dataset.id}"]`); // the save above may have rendered
  if (!again) return;
  editing = { id: again.dataset.id };
  again.classList.add("editing");
  const box = $(".edit", again);
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
}

function finishEditing(save) {
  if (!editing) return;
  const box = $(".todo-list li.editing .edit");
  const todo = state.todos.find(isTodo(editing.id));
  editing = null;
  if (!todo || !save || !box) { render(); return; }
  const title = box.value.trim();
  if (!title) remove(todo);
  else if (title !== todo.title) change(todo, { title }, "Could not rename");
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
    serverTodos = [];
    state.todos = [];
    editing = null;
    sessionStorage.removeItem(OUTBOX);
    showAuth();
  });

  $("#new-todo").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.isComposing) add(event.target.value);
  });

  const todoList = $(".todo-list");
  todoList.addEventListener("change", (event) => {
    const todo = todoOf(event.target);
    if (!todo) return;
    if (event.target.matches(".toggle")) change(todo, { completed: event.target.checked }, "Could not update");
    if (event.target.matches(".set-priority")) change(todo, { priority: event.target.value }, "Could not set the priority");
    if (event.target.matches(".set-due")) {
      const value = event.target.value;
      change(todo, { due: value ? `${value}T00:00:00Z` : null }, "Could not set the due date");
    }
  });
  todoList.addEventListener("click", (event) => {
    if (event.target.matches(".destroy")) { const todo = todoOf(event.target); if (todo) remove(todo); }
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

  $(".toggle-all").addEventListener("change", (event) => setAll(event.target.checked));
  $(".clear-completed").addEventListener("click", clearCompleted);

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
    searchTimer = setTimeout(() => { state.q = event.target.value.trim(); loadTodos(); }, 200);
  });
  $("#sort").addEventListener("change", (event) => { state.sort = event.target.value; loadTodos(); });
  window.addEventListener("hashchange", render);
  // Pending changes are kept for the next page (the outbox); only while the server cannot be
  // reached might they never be saved: then let the browser ask first.
  window.addEventListener("pagehide", saveOutbox);
  window.addEventListener("beforeunload", (event) => {
    if (unsent > 0 && !$("#offline").hidden) event.preventDefault();
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

start();
