// The reference EventFlow client: one ES module, no build step, no dependency.
//
// It is what a front-end team copies into their app. It keeps the cadences the server's capacity
// was planned for (README, "The participant hot path"):
//   - access/track on entry and every 5 min; presence/ping every 120 s ± 10 s;
//   - stats/access every 5 s with If-None-Match (a 304 costs nothing);
//   - chat every 2 s and Q&A every 5 s, or whatever the server's Poll-Interval says;
//   - the admins' dashboard every 15 s;
// each with jitter, so that a crowd that entered together does not poll together. It uses the
// live stream when the server offers one and the polls whenever the stream is unavailable;
// honours Retry-After; backs off with its own circuit breaker when the server fails; stops every
// request and says so when the same viewer enters from another device ("superseded"); and
// leaves (access/exit, fetch keepalive) when the page is hidden for good.
//
// Events (EventTarget): "access" (a stats/access answer), "messages" / "questions"
// ({rows, removed}), "dashboard" (a stats answer, admins), "mode" ({mode, detail}: "polls",
// "stream", "stopped"), "superseded", "stopped" ({reason}).

const SECOND = 1000;

// Seconds. `scale` (the page's data-cadence-scale) shortens them all for tests and demos.
export const CADENCES = {
  track: 300,
  ping: 120,
  pingSpread: 10,
  access: 5,
  messages: 2,
  questions: 5,
  dashboard: 15,
  streamOpen: 10, // a stream not open by then (a buffering proxy, say) is as good as broken
  streamRetry: 30, // after a stream that did not open (refused, unreachable)
  streamResume: 2, // after an open stream ended (a reload, a dropped connection)
};
const JITTER = 0.1; // ±10 % on every cadence
const FULL_PAGE = 50; // the polls' default page size: a full page means more is waiting

export class ApiError extends Error {
  constructor(status, message, retryAfter = 0) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

function jittered(seconds, spread = seconds * JITTER) {
  return Math.max(0, seconds + (Math.random() * 2 - 1) * spread);
}

// The client's own circuit breaker: after `threshold` failures in a row (network errors, 5xx)
// every request waits, twice as long after each further failure up to `maxSeconds`, and at
// least as long as the server's Retry-After. The first request after the wait is the probe: its
// success closes the breaker.
export class Breaker {
  constructor({ threshold = 3, baseSeconds = 2, maxSeconds = 60 } = {}) {
    Object.assign(this, { threshold, baseSeconds, maxSeconds });
    this.failures = 0;
    this.openUntil = 0;
  }

  get isOpen() {
    return Date.now() < this.openUntil;
  }

  waitMs() {
    return Math.max(0, this.openUntil - Date.now());
  }

  success() {
    this.failures = 0;
    this.openUntil = 0;
  }

  failure(retryAfterSeconds = 0) {
    this.failures += 1;
    const over = this.failures - this.threshold;
    const backoff = over >= 0 ? Math.min(this.maxSeconds, this.baseSeconds * 2 ** over) : 0;
    const wait = Math.max(backoff ? jittered(backoff, backoff * 0.2) : 0, retryAfterSeconds);
    if (wait > 0) this.openUntil = Math.max(this.openUntil, Date.now() + wait * SECOND);
  }
}

// The one function that knows how the live stream authenticates. An EventSource cannot send an
// Authorization header, and a token in a URL would end up in logs: the stream is opened with a
// one-time ticket (POST <events>/tickets with the token, EventFlowClient.openStream) instead.
// `query`: the stream's own parameters (after, session_id), those with a value.
export function openEventSource(eventsUrl, ticket, query = {}) {
  const url = new URL(eventsUrl, location.href);
  url.searchParams.set("ticket", ticket);
  for (const [name, value] of Object.entries(query)) if (value) url.searchParams.set(name, value);
  return new EventSource(url);
}

export class EventFlowClient extends EventTarget {
  // webinarId; token (a bearer token); admin: an admin's console rather than a viewer;
  // eventsUrl: the live stream the server offers ("" when it offers none: polls only);
  // cadenceScale: multiplies every cadence of CADENCES.
  constructor({ webinarId, token, admin = false, eventsUrl = "", cadenceScale = 1 }) {
    super();
    Object.assign(this, { webinarId, token, admin, eventsUrl, cadenceScale });
    this.apiBase = `/api/webinars/${encodeURIComponent(webinarId)}`;
    this.breaker = new Breaker();
    this.sessionId = null;
    this.cursors = { messages: "0", questions: "0" };
    this.accessEtag = null;
    this.mode = "idle";
    this.stoppedFor = null;
    this.source = null;
    this.loops = new Map();
    this.onPageHide = () => this.leave();
    this.onPageShow = (event) => event.persisted && this.start();
  }

  // Enter (viewers: track, which registers and opens a session) and keep everything going.
  async start() {
    this.stoppedFor = null;
    if (!this.admin) {
      await this.track();
      this.loop("track", () => this.track(), this.cadence(CADENCES.track));
      this.loop("ping", () => this.ping(), this.pingDelay());
      addEventListener("pagehide", this.onPageHide);
      addEventListener("pageshow", this.onPageShow);
    } else {
      this.loop("dashboard", () => this.pollDashboard());
    }
    if (!this.connectStream()) this.startPolls("the server offers no live stream");
  }

  // Every request ends; `reason` is shown to the user ("superseded", "left", "unauthorized").
  stop(reason) {
    if (this.stoppedFor) return;
    this.stoppedFor = reason;
    for (const name of [...this.loops.keys()]) this.cancel(name);
    this.source?.close();
    this.source = null;
    this.setMode("stopped", reason);
    this.dispatchEvent(new CustomEvent("stopped", { detail: { reason } }));
  }

  // The page is going away: tell the server, with a request that outlives the page.
  leave() {
    if (this.stoppedFor || this.admin) return;
    const body = this.sessionId ? { session_id: this.sessionId } : {};
    fetch(`${this.apiBase}/access/exit`, {
      method: "POST",
      keepalive: true,
      headers: { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).catch(() => {}); // the page is gone: nobody is left to tell
    this.stop("left");
  }

  // --- what a page does -------------------------------------------------------------------

  postMessage(body) {
    return this.call("POST", "/messages", { body: { body } });
  }

  askQuestion(body, isPublic = true) {
    return this.call("POST", "/questions", { body: { body, is_public: isPublic } });
  }

  upvote(questionId, on = true) {
    return this.call(on ? "POST" : "DELETE", `/questions/${questionId}/upvote`);
  }

  moderateMessage(messageId, changes) {
    return this.call("PATCH", `/messages/${messageId}`, { body: changes });
  }

  moderateQuestion(questionId, changes) {
    return this.call("PATCH", `/questions/${questionId}`, { body: changes });
  }

  async call(method, path, options) {
    return (await this.request(method, path, options)).data;
  }

  // One API request under the breaker. Resolves {status, headers, data} (data null on a 304;
  // with `raw`, the Response itself, unread); rejects with an ApiError.
  async request(method, path, { body, headers = {}, raw = false } = {}) {
    if (this.breaker.isOpen) {
      throw new ApiError(0, "the service is failing; waiting before trying again", this.breaker.waitMs() / SECOND);
    }
    const init = { method, cache: "no-store", headers: { Authorization: `Bearer ${this.token}`, ...headers } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(this.apiBase + path, init);
    } catch {
      this.breaker.failure();
      throw new ApiError(0, "the service cannot be reached");
    }
    const retryAfter = Number(response.headers.get("Retry-After")) || 0;
    if (response.status >= 500) {
      this.breaker.failure(retryAfter);
      throw new ApiError(response.status, await errorMessage(response), retryAfter);
    }
    this.breaker.success();
    if (response.status === 401) this.stop("unauthorized");
    if (!response.ok && response.status !== 304) {
      throw new ApiError(response.status, await errorMessage(response), retryAfter);
    }
    if (raw) return response;
    const data = response.status === 304 ? null : await response.json();
    return { status: response.status, headers: response.headers, data };
  }

  // --- the cadences -------------------------------------------------------------------------

  cadence(seconds) {
    return jittered(seconds * this.cadenceScale);
  }

  pingDelay() {
    return jittered(CADENCES.ping * this.cadenceScale, CADENCES.pingSpread * this.cadenceScale);
  }

  // Run `task` after `firstDelay` seconds, then again after the seconds it returns, until
  // cancelled. A failed task waits its Retry-After (or its last cadence), and every task waits
  // while the breaker is open. A 403 or 404 means the webinar is not (or no longer) open to us.
  loop(name, task, firstDelay = 0) {
    this.cancel(name);
    const run = { timer: null };
    this.loops.set(name, run);
    const again = async () => {
      if (this.loops.get(name) !== run) return;
      let next;
      try {
        next = await task();
      } catch (error) {
        if (error.status === 403 || error.status === 404) this.stop("unavailable"); // the webinar, not one row
        next = Math.max(error.retryAfter || 0, run.lastDelay ?? this.cadence(CADENCES.access));
      }
      if (this.loops.get(name) !== run) return;
      run.lastDelay = next;
      run.timer = setTimeout(again, Math.max(next * SECOND, this.breaker.waitMs()));
    };
    run.timer = setTimeout(again, firstDelay * SECOND);
  }

  cancel(name) {
    const run = this.loops.get(name);
    if (run) clearTimeout(run.timer);
    this.loops.delete(name);
  }

  setMode(mode, detail = "") {
    this.mode = mode;
    this.dispatchEvent(new CustomEvent("mode", { detail: { mode, detail } }));
  }

  // --- viewers' presence ----------------------------------------------------------------------

  async track() {
    const body = { user_agent: navigator.userAgent.slice(0, 500) };
    if (this.sessionId) body.session_id = this.sessionId;
    const { data } = await this.request("POST", "/access/track", { body });
    // A new session (entry, or the old one was closed by a sweep or an exit) or the same one.
    this.sessionId = data.session_id;
    return this.cadence(CADENCES.track);
  }

  async ping() {
    await this.call("POST", "/presence/ping", { body: this.sessionId ? { session_id: this.sessionId } : {} });
    return this.pingDelay();
  }

  // --- the polls (the stream's fallback) ------------------------------------------------------

  startPolls(why) {
    if (this.stoppedFor) return;
    if (this.mode !== "polls") this.setMode("polls", why);
    for (const [name, task] of this.pollTasks()) if (!this.loops.has(name)) this.loop(name, task);
  }

  stopPolls() {
    for (const [name] of this.pollTasks()) this.cancel(name);
  }

  pollTasks() {
    return [
      ["access", () => this.pollAccess()],
      ["messages", () => this.pollFeed("messages")],
      ["questions", () => this.pollFeed("questions")],
    ];
  }

  async pollAccess() {
    const query = new URLSearchParams();
    if (this.sessionId) query.set("session_id", this.sessionId);
    if (this.admin) query.set("limit", "5000");
    const headers = this.accessEtag ? { "If-None-Match": this.accessEtag } : {};
    const answer = await this.request("GET", `/stats/access?${query}`, { headers });
    if (answer.data) {
      this.accessEtag = answer.headers.get("ETag");
      this.receiveAccess(answer.data);
    }
    return this.cadence(CADENCES.access);
  }

  async pollFeed(feed) {
    const answer = await this.request("GET", `/${feed}?after=${this.cursors[feed]}`);
    const page = answer.data;
    this.cursors[feed] = page.next;
    const rows = page[feed];
    if (rows.length || page.removed.length) {
      this.dispatchEvent(new CustomEvent(feed, { detail: { rows, removed: page.removed } }));
    }
    if (rows.length >= FULL_PAGE) return 0; // more is waiting: catch up at once
    const interval = Number(answer.headers.get("Poll-Interval")) || CADENCES[feed];
    return jittered(interval);
  }

  async pollDashboard() {
    this.dispatchEvent(new CustomEvent("dashboard", { detail: await this.call("GET", "/stats") }));
    return this.cadence(CADENCES.dashboard);
  }

  // The server answers superseded: null, not true, while its snapshot may predate this session.
  receiveAccess(answer) {
    this.dispatchEvent(new CustomEvent("access", { detail: answer }));
    if (answer.superseded === true) this.supersede();
  }

  supersede() {
    this.dispatchEvent(new Event("superseded"));
    this.stop("superseded");
  }

  // --- the live stream ------------------------------------------------------------------------

  // Open the stream if the server offers one; false when it does not. While the stream is open
  // the polls stop; when it breaks they start at once and the stream is tried again later, from
  // where the stream (or the polls meanwhile) got to: the stream's event ids are the polls'
  // cursors, "<messages>:<questions>".
  connectStream() {
    if (!this.eventsUrl || this.stoppedFor) return false;
    this.loop("stream-wait", () => this.pollUnlessStreaming(), this.cadence(CADENCES.streamOpen));
    this.openStream().catch(() => this.streamBroke(null, false));
    return true;
  }

  async openStream() {
    const { ticket } = await this.call("POST", "/events/tickets");
    if (this.stoppedFor) return;
    const after = `${this.cursors.messages}:${this.cursors.questions}`;
    const source = openEventSource(this.eventsUrl, ticket, { after, session_id: this.sessionId });
    this.source = source;
    let opened = false;
    source.addEventListener("open", () => {
      opened = true;
      this.cancel("stream-wait");
      this.stopPolls();
      this.setMode("stream");
    });
    // A ticket opens one stream once, so the EventSource's own reconnection would be refused:
    // the client reconnects itself, with a new ticket, from the last event's id.
    source.addEventListener("error", () => this.source === source && this.streamBroke(source, opened));
    for (const feed of ["messages", "questions"]) {
      const kind = feed.slice(0, -1); // "message", "question": one changed row each
      source.addEventListener(kind, (event) => {
        this.takeCursors(event.lastEventId);
        this.dispatchEvent(new CustomEvent(feed, { detail: { rows: [JSON.parse(event.data)], removed: [] } }));
      });
    }
    source.addEventListener("removed", (event) => {
      this.takeCursors(event.lastEventId);
      const { feed, ids } = JSON.parse(event.data);
      this.dispatchEvent(new CustomEvent(feed, { detail: { rows: [], removed: ids } }));
    });
    source.addEventListener("access", (event) => this.receiveAccess(JSON.parse(event.data)));
    source.addEventListener("superseded", () => this.supersede());
    source.addEventListener("expired", () => this.stop("unauthorized"));
  }

  // An event id is both feeds' cursors (an id alone, with no event, moves them past changes
  // this viewer does not see: only the EventSource's lastEventId shows it).
  takeCursors(eventId) {
    const match = /^(\d+):(\d+)$/.exec(eventId || "");
    if (match) [this.cursors.messages, this.cursors.questions] = [match[1], match[2]];
  }

  streamBroke(source, wasOpen) {
    if (source) {
      this.takeCursors(source.lastEventId);
      source.close();
    }
    this.source = null;
    this.cancel("stream-wait");
    if (this.stoppedFor) return;
    this.startPolls("the live stream broke");
    const wait = wasOpen ? CADENCES.streamResume : CADENCES.streamRetry;
    this.loop("stream", () => this.retryStream(), this.cadence(wait));
  }

  pollUnlessStreaming() {
    this.cancel("stream-wait"); // a one-off
    if (this.source?.readyState !== EventSource.OPEN) this.startPolls("the live stream does not open");
  }

  retryStream() {
    this.cancel("stream"); // a one-off: connectStream schedules the next try if this one fails
    this.connectStream();
  }
}

async function errorMessage(response) {
  try {
    return (await response.json()).message || response.statusText;
  } catch {
    return response.statusText;
  }
}
