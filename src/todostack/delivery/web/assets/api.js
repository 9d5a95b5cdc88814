// The page's only door to the API. Same-origin fetches carry the httpOnly session cookie;
// no token is ever visible to scripts.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `request failed (${status})`);
    this.status = status;
    this.problem = problem;
  }
}

export class Offline extends Error {}

const listeners = { online: () => {}, offline: () => {} };
export function onConnectivity(online, offline) {
  listeners.online = online;
  listeners.offline = offline;
}

// While any request is out, the page says so (aria-busy): assistive technology can announce
// it, and tests wait on it instead of guessing how long the server takes.
let pending = 0;
function busy(delta) {
  pending += delta;
  document.body.setAttribute("aria-busy", pending > 0 ? "true" : "false");
}

export const pendingRequests = () => pending;

// Work the page has queued but not yet sent counts as busy too.
export async function hold(promise) {
  busy(+1);
  try {
    return await promise;
  } finally {
    busy(-1);
  }
}

export async function request(method, path, options = {}) {
  busy(+1);
  try {
    return await send(method, path, options);
  } finally {
    busy(-1);
  }
}

async function send(method, path, { body, ifMatch, key } = {}) {
  const headers = { Accept: "application/json" };
  if (key !== undefined) headers["Idempotency-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (ifMatch !== undefined) headers["If-Match"] = `"${ifMatch}"`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      // A write already on its way finishes even if the person reloads or leaves the page.
      keepalive: method !== "GET",
    });
  } catch (error) {
    listeners.offline();
    throw new Offline(String(error));
  }
  if (response.status >= 502 && response.status <= 504) {
    listeners.offline();
    throw new Offline(`server answered ${response.status}`);
  }
  listeners.online();
  if (response.status === 204) return null;
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const api = {
  me: () => request("GET", "/api/v1/users/me"),
  signIn: (email, password) => request("POST", "/api/v1/auth/session", { body: { email, password } }),
  signUp: (email, password) => request("POST", "/api/v1/auth/register", { body: { email, password } }),
  signOut: () => request("DELETE", "/api/v1/auth/session"),
  async lists() {
    // Pages of lists, like todos: follow `next` until the last page (one page under the default quota).
    const items = [];
    let cursor = null;
    do {
      const params = new URLSearchParams({ limit: "500" });
      if (cursor) params.set("cursor", cursor);
      const page = await request("GET", `/api/v1/lists?${params}`);
      items.push(...page.items);
      cursor = page.next;
    } while (cursor);
    return { items };
  },
  createList: (name) => request("POST", "/api/v1/lists", { body: { name } }),
  renameList: (list, name) => request("PATCH", `/api/v1/lists/${list.id}`, { body: { name }, ifMatch: list.version }),
  deleteList: (list) => request("DELETE", `/api/v1/lists/${list.id}`, { ifMatch: list.version }),
  async todos(listId, { sort, q }) {
    const all = [];
    let cursor = null;
    do {
      const params = new URLSearchParams({ list_id: listId, limit: "200", sort });
      if (q) params.set("q", q);
      if (cursor) params.set("cursor", cursor);
      const page = await request("GET", `/api/v1/todos?${params}`);
      all.push(...page.items);
      cursor = page.next;
    } while (cursor);
    return all;
  },
  todo: (id) => request("GET", `/api/v1/todos/${id}`),
  createTodo: (body, key) => request("POST", "/api/v1/todos", { body, key }),
  patchTodo: (todo, changes) => request("PATCH", `/api/v1/todos/${todo.id}`, { body: changes, ifMatch: todo.version }),
  deleteTodo: (todo) => request("DELETE", `/api/v1/todos/${todo.id}`, { ifMatch: todo.version }),
  completeAll: (listId) => request("POST", `/api/v1/lists/${listId}/complete-all`),
  clearCompleted: (listId) => request("POST", `/api/v1/lists/${listId}/clear-completed`),
  reorder: (listId, ids) => request("POST", `/api/v1/lists/${listId}/reorder`, { body: { todo_ids: ids } }),
};
