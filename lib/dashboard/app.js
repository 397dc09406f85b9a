// ac-status --serve: the page's script.  Plain JS, no libraries.  Every
// piece of cluster data reaches the page through textContent, never as
// markup, so task data cannot inject anything.
"use strict";

const POLL_MS = 2000;
const FEED_MAX = 200;
const TASKS_LIMIT = 50;
const TOKEN_KEY = "ac-dashboard-token";

const state = {
  actions: false,          // the server has a token: actions possible
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  sseOpen: false,
  pollOk: false,
  feedCount: 0,
  selected: null,          // task id shown in the detail panel
  refreshTimer: null,
  pollTimer: null,
};

const $ = (id) => document.getElementById(id);

// el("td", {class: "num"}, "text" or node...): a new element.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, String(v));
    else if (k === "title") e.title = String(v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function text(v) {
  if (v === undefined || v === null || v === "") return "-";
  if (Array.isArray(v)) return v.length ? v.join(", ") : "-";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function badge(status) {
  return el("span", {class: "badge s-" + String(status).replace(/[^a-z]/g, "")}, text(status));
}

// An RFC 3339 time as local HH:MM:SS, with the full time on hover.
function clock(ts) {
  if (!ts) return el("span", {}, "-");
  const d = new Date(ts);
  if (isNaN(d)) return el("span", {}, text(ts));
  return el("span", {title: ts}, d.toLocaleTimeString([], {hour12: false}));
}

function age(seconds) {
  if (typeof seconds !== "number") return "-";
  if (seconds < 60) return seconds.toFixed(1) + " s";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min";
  return Math.floor(seconds / 3600) + " h";
}

function setConn() {
  const c = $("conn");
  let s = "offline", label = "offline";
  if (state.pollOk && state.sseOpen) { s = "live"; label = "live"; }
  else if (state.pollOk) { s = "polling"; label = "polling (no event stream)"; }
  c.dataset.state = s;
  c.textContent = label;
}

let noticeTimer = null;
function notice(msg, good) {
  const n = $("notice");
  n.textContent = msg;
  n.className = good ? "notice good" : "notice";
  n.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { n.hidden = true; }, 6000);
}

async function getJSON(path) {
  const r = await fetch(path, {cache: "no-store", headers: {Accept: "application/json"}});
  const body = await r.json().catch(() => ({error: "not JSON (HTTP " + r.status + ")"}));
  if (!r.ok) throw new Error(body.error || "HTTP " + r.status);
  return body;
}

async function post(path, body) {
  const r = await fetch(path, {
    method: "POST", cache: "no-store",
    headers: {"Content-Type": "application/json", Authorization: "Bearer " + state.token},
    body: JSON.stringify(body),
  });
  const reply = await r.json().catch(() => ({error: "HTTP " + r.status}));
  if (r.status === 401) {
    lock();
    throw new Error("the token was refused");
  }
  if (!r.ok) throw new Error(reply.error || "HTTP " + r.status);
  return reply;
}

// ------------------------------------------------------------ rendering

function fill(tbody, rows, columns, empty) {
  const frag = document.createDocumentFragment();
  if (!rows.length) {
    frag.append(el("tr", {class: "empty"}, el("td", {colspan: columns}, empty)));
  }
  for (const r of rows) frag.append(r);
  tbody.replaceChildren(frag);
}

function renderSummary(s) {
  $("store").textContent = s.store || "";
  const t = $("totals");
  t.replaceChildren();
  const w = s.workers || {};
  t.append(el("span", {}, el("b", {}, text(w.total)), " workers"));
  for (const k of ["queued", "running", "completed", "failed"]) {
    const n = (s.tasks || {})[k];
    t.append(el("span", {class: "s-" + k}, el("b", {}, text(n)), " " + k));
  }
}

function actionsOn() {
  return state.actions && state.token !== "";
}

function renderWorkers(workers) {
  $("workers-count").textContent = String(workers.length);
  const rows = workers.map((w) => {
    let act = null;
    if (actionsOn() && w.status !== "stopped" && w.status !== "lost") {
      act = w.drained
        ? el("button", {class: "undo", "data-worker": w.id, onclick: () => drain(w.id, true)}, "Undo drain")
        : el("button", {class: "drain danger", "data-worker": w.id, onclick: () => drain(w.id, false)}, "Drain");
    }
    const hb = w.heartbeat_age_s;
    return el("tr", {"data-id": w.id},
      el("td", {}, text(w.id)),
      el("td", {class: "status"}, badge(w.drained && w.status !== "stopped" ? "draining" : w.status)),
      el("td", {class: "num"}, text(w.running) + "/" + text(w.concurrency)),
      el("td", {class: "num completed"}, text(w.completed)),
      el("td", {class: "num failed"}, text(w.failed)),
      el("td", {class: "wrap", title: text(w.handlers)}, text(w.handlers)),
      el("td", {}, text(w.host) + ":" + text(w.pid)),
      el("td", {class: "num" + (typeof hb === "number" && hb > 10 ? " stale" : ""), title: w.heartbeat || ""}, age(hb)),
      el("td", {class: "wrap reason"}, text(w.drain_reason)),
      el("td", {class: "act"}, act));
  });
  fill($("workers").tBodies[0], rows, 10, "no workers");
}

function renderQueue(queue) {
  let total = 0;
  const rows = queue.map((q) => {
    total += (q.queued || 0) + (q.pending || 0);
    return el("tr", {"data-type": q.type},
      el("td", {}, text(q.type)),
      el("td", {class: "num"}, text(q.priority)),
      el("td", {class: "num"}, text(q.queued)),
      el("td", {class: "num"}, text(q.pending)),
      el("td", {class: "num"}, text(q.running)),
      el("td", {}, q.paused ? badge("paused") : "-", q.paused && q.paused_reason ? " " + q.paused_reason : null));
  });
  $("queue-count").textContent = total + " waiting";
  fill($("queue").tBodies[0], rows, 6, "nothing queued");
}

// What handlers reported (tokens, cost, ...) per task type, and every
// budget: a spent one holds its tasks (ac-budget).
function renderUsage(usage) {
  const rows = [];
  let spent = 0;
  for (const [type, u] of Object.entries(usage.types || {})) {
    rows.push(el("tr", {"data-type": type},
      el("td", {}, "type"), el("td", {}, text(type)),
      el("td", {class: "wrap"}, text(u)), el("td", {}, "-"),
      el("td", {}, "-"), el("td", {class: "num"}, "-")));
  }
  for (const b of usage.budgets || []) {
    if (b.spent) spent++;
    rows.push(el("tr", {"data-budget": b.name},
      el("td", {}, "budget"), el("td", {}, text(b.name)),
      el("td", {class: "wrap"}, text(b.usage)),
      el("td", {class: "wrap"}, text(b.limits)),
      el("td", {}, b.spent ? badge("spent") : "no"),
      el("td", {class: "num"}, text(b.held))));
  }
  $("usage-count").textContent = spent ? spent + " spent" : "";
  fill($("usage").tBodies[0], rows, 6, "no usage reported");
}

function renderTasks(tasks) {
  const rows = tasks.map((t) => {
    let act = null;
    if (actionsOn() && ["pending", "queued", "running"].includes(t.status) && !t.cancel_requested) {
      act = el("button", {class: "cancel danger", "data-task": t.id,
        onclick: (ev) => { ev.stopPropagation(); cancel(t.id); }}, "Cancel");
    }
    return el("tr", {"data-id": t.id, class: state.selected === t.id ? "selected" : null,
      tabindex: 0, title: "show task " + t.id,
      onclick: () => showTask(t.id),
      onkeydown: (ev) => { if (ev.key === "Enter") showTask(t.id); }},
      el("td", {class: "num"}, text(t.id)),
      el("td", {}, text(t.type)),
      el("td", {class: "status"}, badge(t.status)),
      el("td", {class: "num"}, text(t.priority)),
      el("td", {class: "num"}, text(t.attempt)),
      el("td", {}, text(t.worker)),
      el("td", {}, clock(t.created)),
      el("td", {}, clock(t.started)),
      el("td", {}, clock(t.finished)),
      el("td", {class: "err", title: t.error || ""}, t.error ? t.error : ""),
      el("td", {class: "act"}, act));
  });
  fill($("tasks").tBodies[0], rows, 11, "no tasks");
}

function tasksPath() {
  const q = new URLSearchParams({limit: String(TASKS_LIMIT)});
  const s = $("filter-status").value, ty = $("filter-type").value.trim();
  if (s) q.set("status", s);
  if (ty) q.set("type", ty);
  return "/api/tasks?" + q.toString();
}

async function refresh() {
  clearTimeout(state.pollTimer);
  try {
    const [summary, workers, queue, usage, tasks] = await Promise.all([
      getJSON("/api/summary"), getJSON("/api/workers"),
      getJSON("/api/queue"), getJSON("/api/usage"),
      getJSON(tasksPath()).catch((e) => {
        notice("tasks: " + e.message);
        return [];
      }),
    ]);
    renderSummary(summary);
    renderWorkers(workers);
    renderQueue(queue);
    renderUsage(usage);
    renderTasks(tasks);
    state.pollOk = true;
  } catch (e) {
    state.pollOk = false;
  }
  setConn();
  state.pollTimer = setTimeout(refresh, POLL_MS);
}

// An event asks for a refresh soon; a burst of them asks once.
function refreshSoon() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => { state.refreshTimer = null; refresh(); }, 250);
}

// ------------------------------------------------------------ task detail

async function showTask(id) {
  state.selected = id;
  for (const tr of $("tasks").tBodies[0].rows) {
    tr.classList.toggle("selected", tr.dataset.id === String(id));
  }
  $("detail-id").textContent = "#" + id;
  $("detail-json").textContent = "loading...";
  $("detail").hidden = false;
  try {
    const t = await getJSON("/api/task/" + encodeURIComponent(id));
    if (state.selected === id) $("detail-json").textContent = JSON.stringify(t, null, 2);
  } catch (e) {
    $("detail-json").textContent = "error: " + e.message;
  }
}

function closeTask() {
  state.selected = null;
  $("detail").hidden = true;
  for (const tr of $("tasks").tBodies[0].rows) tr.classList.remove("selected");
}

// ------------------------------------------------------------ event feed

function addEvent(ev) {
  if (ev.event === "worker.heartbeat" && !$("show-heartbeats").checked) return;
  const extra = [];
  if (ev.duration_ms !== undefined && ev.duration_ms !== null) extra.push(ev.duration_ms + " ms");
  if (ev.error) extra.push(ev.error);
  if (ev.reason) extra.push(ev.reason);
  if (ev.missed) extra.push(ev.missed + " missed");
  const d = new Date(ev.ts || Date.now());
  const li = el("li", {"data-event": ev.event, "data-task": ev.task},
    el("span", {class: "t", title: ev.ts || ""}, isNaN(d) ? "-" : d.toLocaleTimeString([], {hour12: false})),
    el("span", {class: "e " + String(ev.event || "")}, text(ev.event)),
    el("span", {class: "id"}, ev.task ? "#" + ev.task : ""),
    el("span", {class: "ty", title: ev.type || ""}, ev.type || ""),
    el("span", {class: "w muted", title: ev.worker || ""}, text(ev.worker)),
    el("span", {class: "x", title: extra.join(" ")}, extra.join(" ")));
  const feed = $("feed");
  feed.prepend(li);
  while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
  state.feedCount++;
  $("feed-count").textContent = String(state.feedCount);
}

function connectEvents() {
  const es = new EventSource("/events");
  es.onopen = () => { state.sseOpen = true; setConn(); };
  es.onerror = () => { state.sseOpen = false; setConn(); };
  es.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    addEvent(ev);
    if (ev.event !== "worker.heartbeat") refreshSoon();
  };
}

// ------------------------------------------------------------ actions

async function drain(worker, undo) {
  const body = {worker: worker, undo: undo};
  const reason = $("drain-reason").value.trim();
  if (!undo && reason) body.reason = reason;
  try {
    await post("/api/drain", body);
    notice((undo ? "undrained " : "drained ") + worker, true);
  } catch (e) {
    notice("drain " + worker + ": " + e.message);
  }
  refresh();
}

async function cancel(id) {
  try {
    await post("/api/cancel", {id: id});
    notice("cancelled task " + id, true);
  } catch (e) {
    notice("cancel " + id + ": " + e.message);
  }
  refresh();
}

function showAuth() {
  const unlocked = actionsOn();
  $("auth").hidden = !state.actions || unlocked;
  $("unlocked").hidden = !unlocked;
  $("readonly").hidden = state.actions;
  $("drain-reason").hidden = !unlocked;
}

function lock() {
  state.token = "";
  sessionStorage.removeItem(TOKEN_KEY);
  showAuth();
  refresh();
}

async function init() {
  try {
    const cfg = await getJSON("/api/config");
    state.actions = !!cfg.actions;
  } catch (e) {
    state.actions = false;
  }
  showAuth();
  $("auth").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token").value.trim();
    if (!t) return;
    state.token = t;
    sessionStorage.setItem(TOKEN_KEY, t);
    $("token").value = "";
    showAuth();
    refresh();
  });
  $("lock").addEventListener("click", lock);
  $("detail-close").addEventListener("click", closeTask);
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape") closeTask(); });
  $("filter-status").addEventListener("change", refresh);
  $("filter-type").addEventListener("change", refresh);
  connectEvents();
  refresh();
}

document.addEventListener("DOMContentLoaded", init);
