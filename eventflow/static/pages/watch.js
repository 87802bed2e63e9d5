// /watch/<webinarId>: the reference participant page on the reference client.

import { $, RowSet, el, formatTime, onCompose, pageClient } from "./common.js";


async function start(client) {
  const messages = new RowSet($("messages"), renderMessage, { follow: true });
  // Pinned first, then by votes, then oldest first.
  const byRank = (a, b) => b.pinned - a.pinned || b.upvotes - a.upvotes || a.id - b.id;
  const vote = async (row) => {
    const answer = await client.upvote(row.id, !row.upvoted);
    questions.apply({ rows: [{ ...row, upvoted: answer.upvoted, upvotes: answer.upvotes }], removed: [] });
  };
  const questions = new RowSet($("questions"), (row) => renderQuestion(row, vote), { order: byRank });
  client.addEventListener("messages", ({ detail }) => messages.apply(detail));
  client.addEventListener("questions", ({ detail }) => questions.apply(detail));
  client.addEventListener("access", ({ detail }) => renderViewers(detail));
  onCompose($("chat-form"), $("chat-input"), async (text) => messages.apply({ rows: [await client.postMessage(text)], removed: [] }));
  onCompose($("ask-form"), $("ask-input"), async (text) =>
    questions.apply({ rows: [await client.askQuestion(text, $("ask-public").checked)], removed: [] }),
  );
  try {
    const webinar = await client.call("GET", "");
    $("title").textContent = webinar.title;
    document.title = `${webinar.title} — EventFlow`;
    await client.start();
  } catch (error) {
    $("connection").textContent = `could not enter: ${error.message}`;
  }
}

function renderViewers(answer) {
  $("live-count").textContent = answer.live_count;
  $("viewers").replaceChildren(
    ...answer.viewers.map((viewer) =>
      el("li", { class: viewer.me ? "me" : "" }, viewer.display_name, viewer.me ? " (you)" : "", el("small", {}, ` since ${formatTime(viewer.since)}`)),
    ),
  );
}

function renderMessage(row) {
  return el(
    "li",
    { class: row.author_role === "participant" ? "" : "host", dataset: { id: row.id } },
    el("b", {}, row.display_name || "Anonymous"),
    el("small", {}, ` ${formatTime(row.created_at)}`),
    el("p", {}, row.body),
  );
}

function renderQuestion(row, vote) {
  return el(
    "li",
    { class: row.pinned ? "pinned" : "", dataset: { id: row.id, status: row.status } },
    el(
      "button",
      { type: "button", class: row.upvoted ? "vote on" : "vote", title: row.upvoted ? "Withdraw your upvote" : "Upvote", onclick: () => vote(row) },
      `▲ ${row.upvotes}`,
    ),
    el("b", {}, row.display_name || "Anonymous"),
    row.pinned ? el("span", { class: "pill" }, "pinned") : null,
    row.is_public ? null : el("span", { class: "pill" }, "private"),
    el("p", {}, row.body),
    row.answer ? el("p", { class: "answer" }, row.answer) : el("p", { class: "muted" }, "Not answered yet"),
  );
}

const client = pageClient({ admin: false });
if (client) start(client);
