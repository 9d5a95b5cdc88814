// Todo Stack web page: TodoMVC markup and behaviour, plus lists, due dates, priorities, tags,
// search, sorting and keyboard reordering. Plain ES modules, no build step.
import { api, ApiError, Offline, onConnectivity, pendingRequests } from "./api.js";

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

function renderTodo(todo) {
  const li = el("li", { class: todo.completed ? "completed" : "", dataset: { id: todo.id }, draggable: "true" });
  const toggle = el("input", { class: "toggle", type: "checkbox", checked: todo.completed });
  toggle.setAttribute("aria-label", `Complete ${todo.title}`);
  const label = el("label", {}, todo.title);
  const meta = el("span", { class: "meta" });
  if (todo.due) meta.append(el("span", { class: "due" }, `due ${dueText(todo.due)}`));
  if (todo.priority !== "none") meta.append(el("span", { class: `priority priority-${todo.priority}` }, todo.priority));
  for (const tag of todo.tags) meta.append(el("span", { class: "tag" }, `#${tag}`));
  const priority = el("select", { class: "set-priority" },
    ...PRIORITIES.map((p) => el("option", { value: p, selected: p === todo.priority }, p)));
  priority.setAttribute("aria-label", `Priority of ${todo.title}`);
  const due = el("input", { class: "set-due", type: "date", value: todo.due ? todo.due.slice(0, 10) : "" });
  due.setAttribute("aria-label", `Due date of ${todo.title}`);
  const destroy = el("button", { class: "destroy" });
  destroy.setAttribute("aria-label", `Delete ${todo.title}`);
  const view = el("div", { class: "view" }, toggle, label, meta, el("span", { class: "controls" }, due, priority), destroy);
  const edit = el("input", { class: "edit", value: todo.title });
  edit.setAttribute("aria-label", `Edit ${todo.title}`);
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

  const focusedOn = document.activeElement?.closest?.("li[data-id]")?.dataset.id;
  const focusedId = aliases.get(focusedOn) ?? focusedOn; // a new todo may have got its real id
  const focusedClass = document.activeElement?.className;
  const items = visibleTodos().map(renderTodo);
  $(".todo-list").replaceChildren(...items);
  if (focusedId) {
    const again = $(`.todo-list li[data-id="${focusedId}"] .${(focusedClass || "toggle").split(" ")[0]}`);
    (again || $(`.todo-list li[data-id="${focusedId}"] .toggle`))?.focus();
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

// ---- loading --------------------------------------------------------------------------------

async function loadTodos() {
  if (!state.listId) { state.todos = []; render(); return; }
  try {
    state.todos = await api.todos(state.listId, { sort: state.sort, q: state.q });
  } catch (error) {
    say(explain(error, "Could not load the todos"));
  }
  render();
}

async function loadLists(preferId) {
  const { items } = await api.lists();
  state.lists = items;
  const keep = items.find((l) => l.id === (preferId || state.listId));
  state.listId = keep ? keep.id : items[0]?.id || null;
  await loadTodos();
}

async function showApp(user) {
  state.user = user;
  $("#who").textContent = user.email;
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

// ---- changing todos (optimistic, with rollback) -----------------------------------------------

function replaceTodo(todo) {
  const i = state.todos.findIndex((t) => t.id === todo.id);
  if (i >= 0) state.todos[i] = todo;
}

// ---- todos the server has not confirmed yet ------------------------------------------------------

let pendingSeq = 0;
const creations = new Map(); // temporary id -> promise of the created todo (null if refused)
const aliases = new Map(); // temporary id -> the id the server gave it

// A change to a todo still being created waits for the server's copy, so it is never sent
// with a temporary id. Resolves to null when the creation was refused (and rolled back).
async function saved(todo) {
  const creation = creations.get(todo.id);
  if (!creation) return todo;
  const created = await creation;
  return created ? state.todos.find((t) => t.id === created.id) || created : null;
}

async function change(todo, changes, what) {
  replaceTodo({ ...todo, ...changes });
  render();
  const current = await saved(todo);
  if (!current) return;
  if (current !== todo) { replaceTodo({ ...current, ...changes }); render(); }
  const before = { ...current };
  try {
    replaceTodo(await api.patchTodo(before, changes));
  } catch (error) {
    if (error instanceof ApiError && error.status === 412) {
      try {
        replaceTodo(await api.todo(current.id));
      } catch { replaceTodo(before); }
      const typed = changes.title !== undefined ? ` Your text “${changes.title}” was not saved; edit again to apply it.` : "";
      say(`“${before.title}” was changed somewhere else, so it was reloaded.${typed}`);
    } else if (error instanceof ApiError && error.status === 404) {
      state.todos = state.todos.filter((t) => t.id !== current.id);
      say(`“${before.title}” no longer exists.`);
    } else {
      replaceTodo(before);
      say(explain(error, what));
    }
  }
  render();
}

async function remove(pendingOrSaved) {
  const index = state.todos.findIndex((t) => t.id === pendingOrSaved.id);
  state.todos = state.todos.filter((t) => t.id !== pendingOrSaved.id);
  render();
  const todo = await saved(pendingOrSaved);
  if (!todo) return;
  if (todo !== pendingOrSaved) { state.todos = state.todos.filter((t) => t.id !== todo.id); render(); }
  try {
    await api.deleteTodo(todo);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return;
    if (error instanceof ApiError && error.status === 412) {
      say(`“${todo.title}” was changed somewhere else, so it was not deleted.`);
      try { state.todos.splice(index, 0, await api.todo(todo.id)); } catch { state.todos.splice(index, 0, todo); }
    } else {
      state.todos.splice(index, 0, todo);
      say(explain(error, "Could not delete"));
    }
    render();
  }
}

async function add(text) {
  const input = $("#new-todo");
  const { title, tags } = parseEntry(text);
  if (!title) return;
  const temp = { id: `pending-${++pendingSeq}`, title, tags, completed: false, priority: "none", due: null, version: 0 };
  const creation = api.createTodo({ title, tags, list_id: state.listId });
  creations.set(temp.id, creation.catch(() => null));
  state.todos.push(temp);
  input.value = "";
  render();
  try {
    const created = await creation;
    aliases.set(temp.id, created.id);
    if (state.todos.some((t) => t.id === temp.id)) {
      state.todos = state.todos.map((t) => (t.id === temp.id ? created : t));
    } else if (created.list_id === state.listId && !state.todos.some((t) => t.id === created.id)) {
      state.todos.push(created); // a reload replaced the list meanwhile
    }
  } catch (error) {
    state.todos = state.todos.filter((t) => t.id !== temp.id);
    if (!input.value) input.value = text; // nothing typed is lost
    say(explain(error, "Could not add the todo"));
  }
  render();
}

let orderSync = Promise.resolve();

function move(todo, step) {
  if (state.sort !== "order") { say("Switch to manual order to move todos."); return orderSync; }
  const i = state.todos.findIndex((t) => t.id === todo.id);
  const j = i + step;
  if (j < 0 || j >= state.todos.length) return orderSync;
  const before = [...state.todos];
  [state.todos[i], state.todos[j]] = [state.todos[j], state.todos[i]];
  render();
  $(`.todo-list li[data-id="${todo.id}"] .toggle`)?.focus();
  // One reorder request at a time, each sending the order as it is when it leaves: quick
  // successive moves can never reach the server out of order.
  orderSync = orderSync.then(async () => {
    const listId = state.listId;
    await Promise.all(creations.values()); // every id sent must be the server's
    try {
      const { items } = await api.reorder(listId, state.todos.map((t) => t.id));
      const byId = new Map(items.map((t) => [t.id, t]));
      state.todos = state.todos.map((t) => byId.get(t.id) || t);
    } catch (error) {
      if (listId === state.listId) { state.todos = before; render(); }
      say(explain(error, "Could not move the todo"));
    }
  });
  return orderSync;
}

// ---- editing --------------------------------------------------------------------------------

function todoOf(node) {
  const li = node.closest("li[data-id]");
  return li ? state.todos.find((t) => t.id === li.dataset.id) : undefined;
}

function startEditing(li) {
  li.classList.add("editing");
  const edit = $(".edit", li);
  edit.focus();
  edit.setSelectionRange(edit.value.length, edit.value.length);
}

function finishEditing(edit, save) {
  const li = edit.closest("li");
  if (!li || !li.classList.contains("editing")) return;
  li.classList.remove("editing");
  const todo = todoOf(li);
  if (!todo || !save) { render(); return; }
  const title = edit.value.trim();
  if (!title) { remove(todo); return; }
  if (title !== todo.title) change(todo, { title }, "Could not rename");
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
    state.todos = [];
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
    if (event.target.matches("label")) startEditing(event.target.closest("li"));
  });
  todoList.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target.matches(".edit")) {
      if (event.key === "Enter") finishEditing(target, true);
      else if (event.key === "Escape") finishEditing(target, false);
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
  todoList.addEventListener("focusout", (event) => {
    if (event.target.matches(".edit")) finishEditing(event.target, true);
  });
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
    (async () => { for (let i = 0; i < Math.abs(step); i++) await move(todo, Math.sign(step)); })();
  });

  $(".toggle-all").addEventListener("change", async (event) => {
    const done = event.target.checked;
    if (done) {
      state.todos = state.todos.map((t) => ({ ...t, completed: true }));
      render();
      try { await api.completeAll(state.listId); } catch (error) { say(explain(error, "Could not complete all")); }
      await loadTodos();
    } else {
      for (const todo of state.todos.filter((t) => t.completed)) await change(todo, { completed: false }, "Could not reopen");
    }
  });
  $(".clear-completed").addEventListener("click", async () => {
    const before = state.todos;
    state.todos = state.todos.filter((t) => !t.completed);
    render();
    try { await api.clearCompleted(state.listId); } catch (error) {
      state.todos = before;
      render();
      say(explain(error, "Could not clear completed todos"));
    }
  });

  $("#lists").addEventListener("click", (event) => {
    const button = event.target.closest(".list-button");
    if (!button) return;
    state.listId = button.dataset.id;
    loadTodos();
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
  // Leaving aborts saves still on their way (and the server drops work for a client that left):
  // let the browser ask first.
  window.addEventListener("beforeunload", (event) => {
    if (pendingRequests() > 0) event.preventDefault();
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
