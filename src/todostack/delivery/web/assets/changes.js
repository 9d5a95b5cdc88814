// Changing todos. Every change shows at once: the page shows the server's copy of the list with the
// changes not yet confirmed applied on top, in the order they were made. The changes reach the
// server one at a time, in that same order, each built from the server's latest copy when it
// leaves (so a todo still being created has its real id by then, and If-Match carries the latest
// version). A change the server refuses simply drops out of the pending ones, which puts the todo
// back as the server has it. Reloading the list is queued the same way, so an answer can never be
// older than a change.
import { api, ApiError, hold, Offline } from "./api.js";

// What this module needs from the page: its state (listId, sort, q, user; it sets state.todos),
// and how to redraw, tell the person something, explain an error, and give back typed text.
let state, render, say, explain, refill;
export function connect(page) {
  ({ state, render, say, explain, refill } = page);
}

let serverTodos = []; // the current list, as the server last described it
const known = new Map(); // id -> the server's latest copy of any todo seen (its version is what If-Match sends)
const aliases = new Map(); // temporary id of a todo being created -> the id the server gave it
export const realId = (id) => aliases.get(id) ?? id;
export const isTodo = (id) => (t) => t.id === id || t.id === realId(id);
const pendingOps = [];
let queue = Promise.resolve();
// Set as the page unloads: a request the browser cuts off then is not a failure to report but a
// change to keep in the outbox for the next page.
let leaving = false;
export function leave() { leaving = true; }
const cutOff = (error) => leaving && error instanceof Offline;
let unsent = 0; // queued changes that have not left yet
export const unsentChanges = () => unsent;

export function refresh() {
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
    let kept = false;
    try {
      await op.send();
    } catch (error) {
      kept = cutOff(error);
      if (!kept) say(explain(error, op.what || "Could not save"));
    } finally {
      const i = pendingOps.indexOf(op);
      if (i >= 0 && !kept) pendingOps.splice(i, 1);
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
          if (cutOff(error)) throw error;
          if (replayed && error instanceof ApiError && error.status === 409) return; // deleted since
          if (!replayed) refill(r.text); // nothing typed is lost
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
        // An edit carries the version it started from: a change made elsewhere meanwhile (which
        // the live feed has already shown here) answers 412 instead of being overwritten.
        const from = r.version > 0 && r.version < base.version ? { ...base, version: r.version } : base;
        try {
          confirmTodo(await api.patchTodo(from, r.changes));
        } catch (error) {
          if (error instanceof ApiError && error.status === 412) {
            try { confirmTodo(await api.todo(base.id)); } catch { /* the message below still applies */ }
            const typed = r.changes.title !== undefined ? ` Your text “${r.changes.title}” was not saved; edit again to apply it.` : "";
            say(`“${base.title}” was changed somewhere else, so it was reloaded.${typed}`);
          } else if (error instanceof ApiError && error.status === 404) {
            forget(base.id);
            say(`“${base.title}” no longer exists.`);
          } else if (cutOff(error)) {
            throw error;
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
          } else if (cutOff(error)) {
            throw error;
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
            // From the server's list (a replay after a reload comes before the page has one).
            const done = (await api.todos(r.listId, { sort: "order" })).filter((t) => t.completed);
            for (const t of done) confirmTodo(await api.patchTodo(t, { completed: false }));
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

export function change(todo, changes, what, version) {
  return record({ kind: "change", listId: state.listId, id: todo.id, changes, what, version });
}

// Whether a change from the feed is news to this tab (not the echo of its own write).
export function isNews(change) {
  if (change.entity !== "todo") return true;
  const mine = known.get(change.entity_id);
  if (change.kind === "deleted") return mine !== undefined || serverTodos.some((t) => t.id === change.entity_id);
  return mine === undefined || mine.version < change.version;
}

export function remove(todo) {
  return record({ kind: "remove", listId: state.listId, id: todo.id });
}

export const setAll = (completed) => record({ kind: "setAll", listId: state.listId, completed });
export const clearCompleted = () => record({ kind: "clearCompleted", listId: state.listId });

// Unique across reloads of this tab (a replayed change may name a todo created before the reload).
const session = Date.now().toString(36);
let pendingSeq = 0;

function randomKey() {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function create(title, tags, text) {
  const temp = { id: `pending-${session}-${++pendingSeq}`, title, tags, completed: false, priority: "none", due: null, version: 0 };
  // The key makes the creation safe to send again: a replay after a reload gets the same todo.
  return record({ kind: "create", listId: state.listId, temp, text, key: randomKey() });
}

function inOrder(todos, ids) {
  const rank = new Map(ids.map((id, i) => [realId(id), i]));
  const at = (t) => rank.get(t.id) ?? ids.length;
  return [...todos].sort((a, b) => at(a) - at(b));
}

export function move(todo, step) {
  if (state.sort !== "order") { say("Switch to manual order to move todos."); return queue; }
  const i = state.todos.findIndex(isTodo(todo.id));
  const j = i + step;
  if (i < 0 || j < 0 || j >= state.todos.length) return queue;
  const ids = state.todos.map((t) => t.id);
  [ids[i], ids[j]] = [ids[j], ids[i]];
  return record({ kind: "reorder", listId: state.listId, ids });
}

// ---- the outbox: changes not yet confirmed outlive a reload ---------------------------------
//
// Leaving the page saves the records of the pending changes in this tab's sessionStorage; the
// next page, signed in as the same person, sends them again before its first load. Sending again
// is safe: a creation carries its Idempotency-Key, and the other changes set values (or delete)
// from the server's latest copy. Saves already on their way finish anyway (keepalive).

const OUTBOX = "todostack.outbox";

export function saveOutbox() {
  const records = pendingOps.map((op) => op.record).filter(Boolean);
  if (state.user && records.length) sessionStorage.setItem(OUTBOX, JSON.stringify({ user: state.user.id, records }));
  else sessionStorage.removeItem(OUTBOX);
}

export function resumeOutbox(user) {
  let saved = null;
  try { saved = JSON.parse(sessionStorage.getItem(OUTBOX) || "null"); } catch { saved = null; }
  sessionStorage.removeItem(OUTBOX);
  if (!saved || !user.id || saved.user !== user.id || !Array.isArray(saved.records)) return;
  for (const r of saved.records) if (operations[r?.kind]) record(r, { replayed: true });
}

export function loadTodos() {
  const listId = state.listId;
  if (!listId) { serverTodos = []; refresh(); return queue; }
  return submit({ listId, send: () => reloadServer(listId) });
}

// Another list is about to be shown: nothing of this one stays on the page.
export function leaveList() {
  serverTodos = [];
}

// Signed out: forget the list and the changes kept for a next page.
export function reset() {
  serverTodos = [];
  sessionStorage.removeItem(OUTBOX);
}
