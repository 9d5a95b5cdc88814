// Live: the change feed (Server-Sent Events) keeps every open tab current. A change made
// elsewhere reloads what it touches through the same queue as this tab's own changes, so what
// the person is typing stays (the page redraws around an open edit box) and an edit still
// carries the version it started from (a change in between answers 412, as before).
let source = null;
let lastId = null;
let retryTimer = null;
let reloadTimer = null;
let page = null;

// What this module needs from the page: whether a change is news here (not the echo of this
// tab's own write), and how to reload the todos or the lists.
export function start(hooks) {
  stop();
  page = hooks;
  open();
}

export function stop() {
  clearTimeout(retryTimer);
  clearTimeout(reloadTimer);
  if (source) source.close();
  source = null;
  lastId = null;
  page = null;
}

function open() {
  // Browsers resume by themselves with Last-Event-ID while this EventSource lives; a new one
  // (after the server refused or ended for good) says where to resume with ?since=.
  const url = lastId === null ? "/api/v1/changes/stream" : `/api/v1/changes/stream?since=${lastId}`;
  const es = new EventSource(url);
  source = es;
  document.body.dataset.live = "connecting";
  es.addEventListener("ready", (event) => {
    const first = lastId === null;
    lastId = event.lastEventId || lastId;
    document.body.dataset.live = "on";
    // What changed between the page's first load and this stream's start.
    if (first) schedule({ todos: true, lists: true });
  });
  es.addEventListener("change", (event) => {
    lastId = event.lastEventId;
    const change = JSON.parse(event.data);
    if (page && page.isNews(change)) schedule({ todos: change.entity === "todo", lists: change.entity === "list" });
  });
  es.addEventListener("resync", (event) => {
    lastId = event.lastEventId;
    schedule({ todos: true, lists: true });
  });
  es.addEventListener("error", () => {
    if (source !== es) return;
    document.body.dataset.live = "off";
    if (es.readyState === EventSource.CLOSED) {
      // Refused (503 while a server restarts, 401 once signed out): try again shortly.
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => { if (source === es && page) open(); }, 3000);
    }
  });
}

// Changes come in bursts (clearing completed todos is one per todo): one reload per burst.
let wanted = { todos: false, lists: false };
function schedule(what) {
  wanted = { todos: wanted.todos || what.todos, lists: wanted.lists || what.lists };
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => {
    const now = wanted;
    wanted = { todos: false, lists: false };
    if (!page) return;
    if (now.lists) page.reloadLists();
    else if (now.todos) page.reloadTodos();
  }, 50);
}
