// What every page shares: the token from the URL fragment, building DOM from text (never HTML:
// chat text is rendered as text), and the client from the page's data-* attributes.

import { EventFlowClient } from "../eventflow-client.js";

const TOKEN_KEY = "eventflow.token";

// A token given as #token=... moves into this tab's sessionStorage and leaves the address bar
// (and so the history, bookmarks and screenshots). The fragment never reaches a server.
export function takeToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get("token");
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== false && value != null) node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child != null && child !== false));
  return node;
}

export function $(id) {
  return document.getElementById(id);
}

export function showNotice(text) {
  const notice = $("notice");
  notice.textContent = text;
  notice.hidden = false;
}

export function formatTime(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "–";
}

export function formatDuration(seconds) {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : `${m} min ${s % 60} s`;
}

const STOPPED = {
  superseded: "You are watching on another device. This page has stopped updating.",
  unauthorized: "Your access token is missing, invalid or expired. Open this page with a fresh link.",
  unavailable: "This webinar is not available to you.",
  left: "You left the webinar.",
};

// The page's client, with the connection state shown in #connection and the reasons it stops
// in #notice. Returns null (and says why) without a token.
export function pageClient({ admin }) {
  const token = takeToken();
  if (!token) {
    showNotice("No token. Open this page with #token=… at the end of its address (eventflow seed demo prints ready links).");
    return null;
  }
  const data = document.body.dataset;
  const client = new EventFlowClient({
    webinarId: data.webinarId,
    token,
    admin,
    eventsUrl: data.eventsUrl,
    cadenceScale: Number(data.cadenceScale) || 1,
  });
  client.addEventListener("mode", ({ detail }) => {
    const what = { polls: "live via polls", stream: "live via the stream", stopped: "stopped" }[detail.mode];
    $("connection").textContent = detail.detail ? `${what} (${detail.detail})` : what;
    document.body.dataset.mode = detail.mode;
  });
  client.addEventListener("stopped", ({ detail }) => {
    if (detail.reason !== "left") showNotice(STOPPED[detail.reason] || `Stopped: ${detail.reason}`);
  });
  return client;
}

// Rows by id, replaced as they change, and removed when the server says so. A `follow` list
// (chat) stays scrolled to its newest row while the reader is at the bottom.
export class RowSet {
  constructor(list, render, { order = (a, b) => a.id - b.id, follow = false } = {}) {
    Object.assign(this, { list, render, order, follow, rows: new Map() });
  }

  apply({ rows, removed }) {
    for (const row of rows) this.rows.set(row.id, row);
    for (const id of removed) this.rows.delete(id);
    this.redraw();
  }

  redraw() {
    const sorted = [...this.rows.values()].sort(this.order);
    const atBottom = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 8;
    this.list.replaceChildren(...sorted.map((row) => this.render(row)));
    if (this.follow && atBottom) this.list.scrollTop = this.list.scrollHeight;
  }
}

// A form's submit calls `send(text)`; the input clears on success, an error shows beside it.
export function onCompose(form, input, send) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    form.dataset.error = "";
    try {
      await send(text);
      input.value = "";
    } catch (error) {
      form.dataset.error = error.message;
    }
  });
}
