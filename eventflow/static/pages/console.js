// /admin/webinars/<webinarId>: the admin's live console on the reference client.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { $, RowSet, el, formatDuration, formatTime, onCompose, pageClient } from "./common.js";


async function start(client) {
  const moderateMessage = async (row, changes) => messages.apply({ rows: [await client.moderateMessage(row.id, changes)], removed: [] });
  const messages = new RowSet($("messages"), (row) => renderMessage(row, moderateMessage), { follow: true });
  const questions = new RowSet($("questions"), (row) => renderQuestion(client, row, questions), { order: byQueue });
  const chart = new ViewersChart($("chart"));
  client.addEventListener("messages", ({ detail }) => messages.apply(detail));
  client.addEventListener("questions", ({ detail }) => questions.apply(detail));
  client.addEventListener("access", ({ detail }) => {
    renderViewers(detail);
    chart.setNow(detail.live_count);
  });
  client.addEventListener("dashboard", ({ detail }) => {
    renderFunnel(detail);
    renderStats(detail);
    chart.setBuckets(detail.access);
  });
  onCompose($("chat-form"), $("chat-input"), async (text) => messages.apply({ rows: [await client.postMessage(text)], removed: [] }));
  $("attendance-refresh").addEventListener("click", () => loadAttendance(client));
  $("attendance-csv").addEventListener("click", () => downloadCsv(client));
  try {
    const webinar = await client.call("GET", "");
    $("title").textContent = webinar.title;
    $("status").textContent = webinar.status;
    document.title = `Console: ${webinar.title} — EventFlow`;
    await client.start();
    await loadAttendance(client);
  } catch (error) {
    $("connection").textContent = `could not load: ${error.message}`;
  }
}

// Pending first (pinned on top), then answered, then hidden; oldest first within each.
const STATUS_ORDER = { pending: 0, answered: 1, hidden: 2 };
function byQueue(a, b) {
  return STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || b.pinned - a.pinned || a.id - b.id;
}

function renderViewers(answer) {
  $("live-count").textContent = answer.live_count;
  $("viewers").replaceChildren(
    ...answer.viewers.map((viewer) =>
      el("tr", { dataset: { userId: viewer.user_id } }, el("td", {}, viewer.display_name), el("td", {}, formatTime(viewer.since)), el("td", { class: "mono" }, viewer.user_id)),
    ),
  );
}

function renderMessage(row, moderate) {
  const toggle = () => moderate(row, { hidden: !row.hidden });
  return el(
    "li",
    { class: row.hidden ? "hidden-row" : row.author_role === "participant" ? "" : "host", dataset: { id: row.id } },
    el("b", {}, row.display_name || "Anonymous"),
    el("small", {}, ` ${formatTime(row.created_at)}`),
    el("button", { type: "button", class: "act", onclick: toggle }, row.hidden ? "Unhide" : "Hide"),
    el("p", {}, row.body),
  );
}

function renderQuestion(client, row, questions) {
  const moderate = async (changes) => questions.apply({ rows: [await client.moderateQuestion(row.id, changes)], removed: [] });
  const answer = el("input", { name: "answer", maxlength: 4000, placeholder: row.answer ? "Edit the answer" : "Answer", value: row.answer || "" });
  const form = el("form", { class: "compose" }, answer, el("button", { type: "submit" }, "Answer"));
  onCompose(form, answer, (text) => moderate({ answer: text }));
  return el(
    "li",
    { class: [row.pinned ? "pinned" : "", row.status === "hidden" ? "hidden-row" : ""].join(" ").trim(), dataset: { id: row.id, status: row.status } },
    el("b", {}, row.display_name || "Anonymous"),
    el("span", { class: "pill" }, row.status),
    row.is_public ? null : el("span", { class: "pill" }, "private"),
    el("span", { class: "muted" }, ` ▲ ${row.upvotes}`),
    el("button", { type: "button", class: "act", onclick: () => moderate({ hidden: row.status !== "hidden" }) }, row.status === "hidden" ? "Unhide" : "Hide"),
    el("button", { type: "button", class: "act", onclick: () => moderate({ pinned: !row.pinned }) }, row.pinned ? "Unpin" : "Pin"),
    el("p", {}, row.body),
    row.answer ? el("p", { class: "answer" }, row.answer) : null,
    form,
  );
}

// Registered → viewed → attended, no-shows and watch time: the registrants and sessions sections.
function renderFunnel(stats) {
  const { registrants: r, sessions: s } = stats;
  const figures = [
    ["registered", "Registered", r.total],
    ["viewed", "Watched", r.viewed],
    ["attended", "Attended", r.attended],
    ["no_shows", "No-shows", r.no_shows],
    ["total_watch", "Watch time, all viewers", formatDuration(s.total_watch_seconds)],
    ["average_watch", "Average watch time", formatDuration(s.average_watch_seconds)],
    ["median_watch", "Median watch time", formatDuration(s.median_watch_seconds)],
  ];
  $("funnel").replaceChildren(
    ...figures.flatMap(([key, label, value]) => [el("dt", {}, label), el("dd", { dataset: { figure: key } }, value)]),
  );
}

// Every section of the stats answer, drawn from its shape: objects as lists, lists of objects
// as tables. A section added to the API shows here without a change.
function renderStats(stats) {
  $("stats-at").textContent = `updated ${new Date().toLocaleTimeString()}`;
  const sections = Object.entries(stats).filter(([name]) => name !== "webinar_id");
  $("stats").replaceChildren(
    ...sections.map(([name, value]) => el("section", { class: "stat", dataset: { section: name } }, el("h3", {}, name), renderValue(value))),
  );
}

function renderValue(value) {
  if (Array.isArray(value)) {
    if (!value.length) return el("span", { class: "muted" }, "none");
    if (typeof value[0] !== "object") return el("span", {}, value.join(", "));
    const columns = Object.keys(value[0]);
    return el(
      "table",
      { class: "grid" },
      el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", {}, c)))),
      el("tbody", {}, ...value.map((row) => el("tr", {}, ...columns.map((c) => el("td", {}, renderValue(row[c])))))),
    );
  }
  if (value && typeof value === "object") {
    return el("dl", {}, ...Object.entries(value).flatMap(([key, inner]) => [el("dt", {}, key), el("dd", { dataset: { key } }, renderValue(inner))]));
  }
  return document.createTextNode(value == null ? "–" : String(value));
}

async function loadAttendance(client) {
  const answer = await client.call("GET", "/attendance");
  $("attendance").replaceChildren(
    ...answer.viewers.map((row) =>
      el(
        "tr",
        { dataset: { userId: row.user_id } },
        el("td", {}, row.display_name),
        el("td", {}, row.registered ? formatTime(row.registered_at) : "no"),
        el("td", {}, formatTime(row.first_join_at)),
        el("td", {}, formatTime(row.last_leave_at)),
        el("td", {}, formatDuration(row.watch_seconds)),
        el("td", {}, row.sessions),
        el("td", {}, row.rejoins),
        el("td", {}, row.attended ? "yes" : "no"),
      ),
    ),
  );
}

// The CSV needs the bearer token, so a plain link cannot fetch it: fetch it, then hand the
// browser the file.
async function downloadCsv(client) {
  const response = await client.request("GET", "/attendance?format=csv", { raw: true });
  const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "")?.[1] || "attendance.csv";
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// Peak concurrent viewers per 5-minute bucket from the rollup, and the live count now. The
// points given to uPlot are also kept in data-points, for whoever wants the numbers.
class ViewersChart {
  constructor(figure) {
    this.figure = figure;
    this.buckets = [];
    this.now = null;
    this.plot = null;
  }

  setBuckets(access) {
    this.buckets = access.series.map((bucket) => [Date.parse(bucket.time_bucket) / 1000, bucket.concurrent_viewers]);
    this.draw();
  }

  setNow(liveCount) {
    this.now = [Date.now() / 1000, liveCount];
    this.draw();
  }

  draw() {
    const points = this.now ? [...this.buckets, this.now] : this.buckets;
    this.figure.dataset.points = JSON.stringify(points);
    const data = [points.map((p) => p[0]), points.map((p) => p[1])];
    if (this.plot) {
      this.plot.setData(data);
      return;
    }
    this.plot = new uPlot(
      {
        width: Math.max(320, this.figure.clientWidth),
        height: 220,
        scales: {
          x: { time: true, range: (u, min, max) => (max - min < 600 ? [min - 1800, max + 300] : [min, max]) },
          y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] },
        },
        series: [{}, { label: "viewers", stroke: "#2a6df4", fill: "rgba(42,109,244,0.12)", width: 2, points: { show: true, size: 6 } }],
        axes: [{}, { label: "viewers" }],
      },
      data,
      this.figure,
    );
  }
}

const client = pageClient({ admin: true });
if (client) start(client);
