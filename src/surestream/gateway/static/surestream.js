// surestream.js — the client of surestream streams, for browsers and Node 18+. ES module, no
// build step, no dependency; `surestream.d.ts` declares it, `package.json` makes it the npm
// package `surestream`.
//
// Strategy: three layers. `SSEDecoder` is the WHATWG "interpreting an event stream" algorithm
// over bytes or text, with no I/O (the same contract and the same conformance vectors as the
// Python `surestream.sse.Decoder`). `Answer` folds typed events into the answer's ordered
// parts (text, reasoning, tool calls, steps), with no I/O either. `stream()` drives them over
// `fetch`: it delivers each typed event once, in order, and settles with the stream's verdict
// — it resolves on `done` and rejects with `StreamFailed` on `error` (or an HTTP refusal, or
// a protocol error) and with `StreamInterrupted` when the connection ended without a verdict
// and resuming did not work; whatever the peer does, it settles with one of those three.
// Resuming is a GET of the events URL (the request URL for a GET, the `Location` of the
// response otherwise: a request that created a stream is never sent twice) with
// `Last-Event-ID`, after an exponential, jittered delay based on the server's `retry:` and
// kept between `minRetryDelay` and `maxRetryDelay`, at most `maxRetries` times in a row
// without a new event and `maxResumes` times in all; 404, 410 and other final 4xx stop it.
// A stream that brings more than `maxBytes` (decompressed) or `maxEvents` ends interrupted
// at once, without a reconnection (it would bring the same bytes again).
// Replays are skipped (by seq, or by the ids already seen), a restarted or different stream
// is reported, and the caller's headers never go to another origin. The consumer rules —
// held retryable errors, the resume-id grammar — are those of Python's
// `surestream.lifecycle`. No listener on `visibilitychange`, `online` or `focus`: nothing but
// a lost connection starts a reconnection, and nothing after a terminal event. Two timers:
// `readTimeout` on bytes (heartbeats count; a silent connection is a lost one, resumed) and
// `idleTimeout` on events (heartbeats do not count; a stream with no event for that long is
// reported interrupted).

/** Largest event, in decoded characters (UTF-16 code units), before `SSEProtocolError`. */
export const DEFAULT_MAX_EVENT_SIZE = 1024 * 1024;
/** Reconnection attempts in a row without a new event before `stream()` gives up. */
export const DEFAULT_MAX_RETRIES = 5;
/** Milliseconds before the first reconnection when the server sent no `retry:`. */
export const DEFAULT_RETRY_DELAY = 1000;
/** Cap on the delay between two reconnection attempts, in ms (before jitter). */
export const DEFAULT_MAX_RETRY_DELAY = 30000;
/** Random extra delay, as a fraction of the delay (0.5: up to 50 % longer). */
export const DEFAULT_JITTER = 0.5;
/** Milliseconds without any byte (heartbeats count) before a connection counts as lost. */
export const DEFAULT_READ_TIMEOUT = 60000;
/** Milliseconds without an event (heartbeats do not count) before the stream is given up:
 * longer than the server's own 300 s `idle_timeout`, so the server's verdict arrives first. */
export const DEFAULT_IDLE_TIMEOUT = 330000;

/** Smallest delay between two reconnection attempts, in ms, whatever the server's `retry:`
 * says (`retry: 0` must not turn a failing server into a request storm). */
export const DEFAULT_MIN_RETRY_DELAY = 500;
/** Reconnections in all, new events or not, before `stream()` gives up on one stream. */
export const DEFAULT_MAX_RESUMES = 20;
/** Redirects one reconnection follows before it is given up (a redirect loop). */
export const DEFAULT_MAX_REDIRECTS = 10;
/** Body bytes one stream may bring across its connections, counted after `fetch` undid any
 * `Content-Encoding` (a 454 KB gzip body can hold 671 MB of events): 256 MiB. */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
/** SSE events one stream may bring across its connections, replays included. */
export const DEFAULT_MAX_EVENTS = 1_000_000;

const MAX_TIMER = 2 ** 31 - 1; // the longest delay setTimeout honours, in ms
const RESUMABLE_ERRORS = new Set(["server_shutdown", "producer_lost", "store_unavailable"]);

/** The peer sent an event stream this decoder refuses (an event over `maxEventSize`). */
export class SSEProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = "SSEProtocolError";
  }
}

/**
 * Incremental WHATWG-exact SSE decoder. `feed(chunk)` (a `Uint8Array` or a string) returns
 * the events the chunk completes, as `{event, data, id, retry}` (`id`: the last event ID at
 * dispatch, or null; `retry`: the reconnection time so far, or null). `close()` ends the
 * stream, discards an unterminated block and readies the decoder for a new stream, keeping
 * `lastEventId` and `retry`. An event over `maxEventSize` raises `SSEProtocolError` from the
 * next `feed` or `close` (the events completed before it are returned first).
 */
export class SSEDecoder {
  constructor({ maxEventSize = DEFAULT_MAX_EVENT_SIZE } = {}) {
    if (!(maxEventSize >= 1)) throw new RangeError("maxEventSize must be >= 1");
    this.maxEventSize = maxEventSize;
    this.lastEventId = null;
    this.retry = null;
    this._error = null;
    this._newStream();
  }

  _newStream() {
    this._utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
    this._bom = true;
    this._cr = false;
    this._tail = "";
    this._resetBlock();
    this._id = this.lastEventId;
  }

  _resetBlock() {
    this._data = [];
    this._dataSize = 0;
    this._event = "";
  }

  feed(chunk) {
    if (this._error) throw new SSEProtocolError(this._error);
    let text = typeof chunk === "string" ? chunk : this._utf8.decode(chunk, { stream: true });
    // WHATWG: "One leading U+FEFF BYTE ORDER MARK character must be ignored if any are present."
    if (this._bom && text) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this._bom = false;
    }
    // A CR that ended the previous chunk was a line end; an LF right after it is its pair.
    if (this._cr && text) {
      if (text.charCodeAt(0) === 0x0a) text = text.slice(1);
      this._cr = false;
    }
    const out = [];
    if (!text) return out;
    text = this._tail + text;
    // WHATWG: "Lines must be separated by either a U+000D CARRIAGE RETURN U+000A LINE FEED
    // (CRLF) character pair, a single U+000A LINE FEED (LF) character, or a single U+000D
    // CARRIAGE RETURN (CR) character."
    const lines = text.split(/\r\n|\r|\n/);
    this._tail = lines.pop();
    this._cr = text.endsWith("\r");
    try {
      for (const line of lines) this._line(line, out);
      if (this._dataSize + this._tail.length > this.maxEventSize) this._fail();
    } catch (error) {
      if (!(error instanceof SSEProtocolError)) throw error;
      if (!out.length) throw error;
    }
    return out;
  }

  close() {
    if (this._error) throw new SSEProtocolError(this._error);
    this._utf8.decode();
    // WHATWG: "Once the end of the file is reached, any pending data must be discarded. (If
    // the file ends in the middle of an event, before the final empty line, the incomplete
    // event is not dispatched.)"
    this._newStream();
    return [];
  }

  _fail() {
    this._error = `SSE event exceeds max_event_size (${this.maxEventSize} characters)`;
    this._tail = "";
    this._resetBlock();
    throw new SSEProtocolError(this._error);
  }

  _line(line, out) {
    // WHATWG: "If the line is empty (a blank line) -> Dispatch the event"
    if (line === "") {
      this._dispatch(out);
      return;
    }
    if (this._dataSize + line.length > this.maxEventSize) this._fail();
    // WHATWG: "If the line starts with a U+003A COLON character (:) -> Ignore the line."
    if (line.charCodeAt(0) === 0x3a) return;
    // WHATWG: "Collect the characters on the line before the first U+003A COLON character
    // (:), and let field be that string. [...] If value starts with a U+0020 SPACE character,
    // remove it from value." Without a colon: "using the whole line as the field name, and
    // the empty string as the field value."
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    if (field === "data") {
      // WHATWG: "Append the field value to the data buffer, then append a single U+000A LINE
      // FEED (LF) character to the data buffer."
      this._data.push(value);
      this._dataSize += value.length + 1;
    } else if (field === "event") {
      // WHATWG: "Set the event type buffer to field value."
      this._event = value;
    } else if (field === "id") {
      // WHATWG: "If the field value does not contain U+0000 NULL, then set the last event ID
      // buffer to the field value. Otherwise, ignore the field."
      if (!value.includes("\0")) this._id = value;
    } else if (field === "retry") {
      // WHATWG: "If the field value consists of only ASCII digits, then interpret the field
      // value as an integer in base ten, and set the event stream's reconnection time to that
      // integer. Otherwise, ignore the field."
      if (/^[0-9]+$/.test(value)) this.retry = Number.parseInt(value, 10);
    }
    // WHATWG: "Otherwise -> The field is ignored."
  }

  _dispatch(out) {
    // WHATWG: "Set the last event ID string of the event source to the value of the last
    // event ID buffer. The buffer does not get reset"
    this.lastEventId = this._id;
    // WHATWG: "If the data buffer is an empty string, set the data buffer and the event type
    // buffer to the empty string and return." Otherwise the type is the event type buffer or
    // "message", the data the buffer without its last LF.
    if (this._data.length) {
      out.push({
        event: this._event || "message",
        data: this._data.join("\n"),
        id: this._id,
        retry: this.retry,
      });
    }
    this._resetBlock();
  }
}

/**
 * The answer a stream builds, as ordered parts: `apply(event)` folds one typed event in and
 * returns the part it changed (or null for events that are not content). Parts are
 * `{type: "text", text}`, `{type: "reasoning", text}`, `{type: "step", name}` and
 * `{type: "tool", id, name, argsText, args, state, output, error}` with `state` one of
 * `input-streaming` (start and argument fragments arrived), `input-available` (the complete
 * `tool_call`), `output-available` and `output-error` (a `tool_result`). Text and reasoning
 * extend the last part when it has their type, so text after a tool call or a step is a new
 * part and the order survives. Sans-IO: the chat page renders from it, `stream()` returns it.
 */
export class Answer {
  constructor() {
    this.parts = [];
    this._tools = new Map();
  }

  /** The answer's text: every `text` event, in order. */
  get text() {
    return this._joined("text");
  }

  /** The reasoning text: every `reasoning` event, in order. */
  get reasoning() {
    return this._joined("reasoning");
  }

  /** The complete tool calls (a `tool_call` arrived), with their results when any. */
  get toolCalls() {
    return this.parts.filter((part) => part.type === "tool" && part.state !== "input-streaming");
  }

  _joined(type) {
    let out = "";
    for (const part of this.parts) if (part.type === type) out += part.text;
    return out;
  }

  apply(event) {
    switch (event.type) {
      case "text":
      case "reasoning":
        return typeof event.text === "string" ? this._append(event.type, event.text) : null;
      case "step":
        return this._push({ type: "step", name: typeof event.name === "string" ? event.name : null });
      case "tool_call_start":
        return this._tool(event.id, event.name);
      case "tool_call_delta": {
        const tool = this._tool(event.id);
        if (tool && typeof event.args === "string" && tool.state === "input-streaming") tool.argsText += event.args;
        return tool;
      }
      case "tool_call": {
        const tool = this._tool(event.id, event.name);
        if (!tool) return null;
        tool.args = event.args ?? null;
        tool.argsText = JSON.stringify(tool.args ?? {});
        if (tool.state === "input-streaming") tool.state = "input-available";
        return tool;
      }
      case "tool_result": {
        const tool = this._tool(event.id);
        if (!tool) return null;
        if (tool.state === "input-streaming") tool.state = "input-available";
        tool.output = event.output ?? null;
        tool.error = typeof event.error === "string" ? event.error : null;
        tool.state = tool.error === null ? "output-available" : "output-error";
        return tool;
      }
      default:
        return null;
    }
  }

  _append(type, text) {
    const last = this.parts[this.parts.length - 1];
    if (last && last.type === type) {
      last.text += text;
      return last;
    }
    return this._push({ type, text });
  }

  _push(part) {
    this.parts.push(part);
    return part;
  }

  _tool(id, name) {
    if (typeof id !== "string") return null;
    let tool = this._tools.get(id);
    if (!tool) {
      tool = { type: "tool", id, name: null, argsText: "", args: null, state: "input-streaming", output: null, error: null };
      this._tools.set(id, this._push(tool));
    }
    if (typeof name === "string" && name) tool.name = name;
    return tool;
  }
}

/** A stream did not end with `done`. */
export class StreamError extends Error {
  constructor(message, details = {}) {
    super(message);
    this.name = "StreamError";
    this.text = details.text ?? "";
    this.reasoning = details.reasoning ?? "";
    this.toolCalls = details.toolCalls ?? [];
    this.parts = details.parts ?? [];
    this.lastEventId = details.lastEventId ?? null;
    this.streamId = details.streamId ?? null;
  }
}

/**
 * The stream ended with an `error` event, or was refused with an HTTP error before it
 * started. `error` is `{code, message, retryable}`; `status` the HTTP status of a refusal.
 */
export class StreamFailed extends StreamError {
  constructor(error, details = {}) {
    super(`stream failed: ${error.code}: ${error.message}`, details);
    this.name = "StreamFailed";
    this.error = error;
    this.code = error.code;
    this.retryable = Boolean(error.retryable);
    this.status = details.status ?? null;
  }
}

/**
 * The connection ended without a terminal event and resuming failed. `lastEventId` is the
 * id of the last event received, `attempts` the reconnections tried, `reason` why it stopped.
 */
export class StreamInterrupted extends StreamError {
  constructor(reason, details = {}) {
    const attempts = details.attempts ?? 0;
    super(`stream interrupted after ${attempts} resume attempt(s): ${reason}`, details);
    this.name = "StreamInterrupted";
    this.reason = reason;
    this.attempts = attempts;
    this.status = details.status ?? null;
  }
}

/** Whether a reconnection answered with `status` must not be retried. */
export function fatalStatus(status) {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/** Milliseconds to wait before reconnection number `failures` (1 for the first): the
 * server's `retry:` (else `retryDelay`), doubled per failure, within `minRetryDelay` and
 * `maxRetryDelay`, plus jitter. A `retry: 0` or a `retry:` of a hundred digits stays in bounds. */
export function backoffDelay(failures, serverRetry, options = {}) {
  const {
    retryDelay = DEFAULT_RETRY_DELAY,
    minRetryDelay = DEFAULT_MIN_RETRY_DELAY,
    maxRetryDelay = DEFAULT_MAX_RETRY_DELAY,
    jitter = DEFAULT_JITTER,
    random = Math.random,
  } = options;
  const base = serverRetry ?? retryDelay;
  const delay = Math.min(maxRetryDelay, base * 2 ** Math.max(0, failures - 1));
  return Math.min(MAX_TIMER, Math.max(minRetryDelay, delay) * (1 + jitter * random()));
}

/** The seq an SSE id names (1 to `MAX_SEQ_DIGITS` ASCII digits, as a BigInt), or null. */
function sequence(id) {
  return id !== null && /^[0-9]{1,18}$/.test(id) ? BigInt(id) : null;
}

/** `Last-Event-ID` as a header value: the id's UTF-8 bytes, one character per byte. */
function headerValue(id) {
  if (/^[\x00-\x7f]*$/.test(id)) return id;
  const bytes = new TextEncoder().encode(id);
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return out;
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.min(ms, MAX_TIMER));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

async function refusal(response) {
  let error = { code: `http_${response.status}`, message: `HTTP ${response.status}` };
  try {
    const body = await response.json();
    if (body && typeof body.error === "object" && body.error) {
      error = { ...error, ...body.error };
    } else if (body && typeof body.error === "string") {
      error.message = body.error;
    }
  } catch {
    // not JSON: keep the status line
  }
  error.retryable = response.status === 429 || response.status >= 500;
  return error;
}

function isEventStream(response) {
  const type = response.headers.get("Content-Type") || "";
  return type.split(";")[0].trim().toLowerCase() === "text/event-stream";
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

// An outcome of one connection that ends the whole stream: `stream()` rejects with `error`.
class Verdict {
  constructor(error) {
    this.error = error;
  }
}

/**
 * Read a surestream stream with `fetch`, resuming it when the connection breaks.
 *
 * `url`: a stream's events URL (GET), or a URL that creates and streams (e.g. POST
 * `/v1/chat/stream` with `body`, an object sent as JSON or a string). `onEvent(event, meta)`
 * gets every typed event once and in order (`meta.id` is its SSE id; `meta.part` the
 * `Answer` part a content event changed, to render in place), and the client's own
 * connection states as `{type: "state", state, local: true, ...}` with `state` one of
 * `streaming` (the stream answered; `streamId`, `eventsUrl`), `resuming` (the connection was
 * lost; `attempt`, `maxRetries`, `delay` ms, `reason`) and `resumed`. `signal` aborts
 * everything (the promise rejects with its reason).
 *
 * Resolves with the `done` event plus `text` (the whole answer), `reasoning`, `toolCalls`
 * and `parts` (the `Answer` the events built), `streamId`, `eventsUrl` and `lastEventId`;
 * rejects with `StreamFailed` or `StreamInterrupted` (both carry `text`, `reasoning`,
 * `toolCalls` and `parts` as far as they arrived).
 */
export async function stream(url, options = {}) {
  const {
    method = "GET",
    body,
    headers = {},
    signal,
    onEvent,
    maxRetries = DEFAULT_MAX_RETRIES,
    maxResumes = DEFAULT_MAX_RESUMES,
    maxRedirects = DEFAULT_MAX_REDIRECTS,
    retryDelay = DEFAULT_RETRY_DELAY,
    minRetryDelay = DEFAULT_MIN_RETRY_DELAY,
    maxRetryDelay = DEFAULT_MAX_RETRY_DELAY,
    jitter = DEFAULT_JITTER,
    readTimeout = DEFAULT_READ_TIMEOUT,
    idleTimeout = DEFAULT_IDLE_TIMEOUT,
    maxEventSize = DEFAULT_MAX_EVENT_SIZE,
    maxBytes = DEFAULT_MAX_BYTES,
    maxEvents = DEFAULT_MAX_EVENTS,
    fetch: fetchImpl = globalThis.fetch.bind(globalThis),
  } = options;
  const base = new URL(url, globalThis.location?.href);
  const answer = new Answer();
  const st = {
    lastEventId: null,
    lastSeq: null,
    seenIds: new Set(), // ids that name no seq, to tell a replay from a new event
    receivedAny: false,
    started: false,
    retry: null,
    streamId: null,
    eventsUrl: method.toUpperCase() === "GET" ? base.href : null,
    held: null, // a retryable error held back while resuming: {error, event, id}
    failures: 0, // reconnections in a row without a new event
    resumes: 0, // reconnections in all
    bytes: 0, // body bytes of every connection, decompressed
    events: 0, // SSE events of every connection
  };
  const delivered = () => ({
    text: answer.text,
    reasoning: answer.reasoning,
    toolCalls: answer.toolCalls,
    parts: answer.parts,
    lastEventId: st.lastEventId,
    streamId: st.streamId,
  });
  const details = (extra = {}) => ({ ...delivered(), attempts: st.resumes, ...extra });
  const emit = (event, meta) => {
    if (!onEvent) return;
    try {
      onEvent(event, meta);
    } catch (error) {
      // A bug in the caller's handler must not pass for a network failure.
      queueMicrotask(() => {
        throw error;
      });
    }
  };
  const state = (name, extra = {}) => emit({ type: "state", state: name, local: true, ...extra }, {});
  // The end without `done`: a held retryable error is the outcome if there is one (delivered
  // now, as the terminal event), else the stream is interrupted for `reason`.
  const ending = (reason, extra = {}) => {
    if (st.held) {
      emit(st.held.event, { id: st.held.id });
      return new StreamFailed(st.held.error, details(extra));
    }
    return new StreamInterrupted(reason, details(extra));
  };

  const callerHeaders = new Headers(headers);
  if (!callerHeaders.has("Accept")) callerHeaders.set("Accept", "text/event-stream");
  const init = { method, headers: new Headers(callerHeaders), body };
  if (body !== undefined && body !== null && typeof body === "object" && !isBodyInit(body)) {
    init.body = JSON.stringify(body);
    if (!init.headers.has("Content-Type")) init.headers.set("Content-Type", "application/json");
  }

  for (let first = true; ; first = false) {
    signal?.throwIfAborted();
    const connection = new AbortController();
    const onAbort = () => connection.abort(signal.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    let reason;
    try {
      const response = first ? await open(base.href, init, connection) : await resume(connection);
      if (response instanceof Verdict) throw response.error;
      if (typeof response === "string") {
        reason = response;
      } else if (!response.ok) {
        if (first) throw new StreamFailed(await refusal(response), details({ status: response.status }));
        if (fatalStatus(response.status)) {
          const gone = response.status === 404 || response.status === 410;
          throw ending(gone ? `the stream is gone (HTTP ${response.status})` : `HTTP ${response.status}`, {
            status: response.status,
          });
        }
        reason = `HTTP ${response.status}`;
      } else if (response.status === 204 && !first) {
        // 204: the id we resumed from is the stream's terminal event; a held retryable
        // error was that terminal event, so it is the outcome.
        throw ending("the stream had already ended (HTTP 204)", { status: 204 });
      } else if (!isEventStream(response)) {
        const type = response.headers.get("Content-Type");
        const error = { code: "not_a_stream", message: `expected text/event-stream, got ${type}`, retryable: false };
        throw new StreamFailed(error, details({ status: response.status }));
      } else {
        const other = response.headers.get("Surestream-Stream-Id");
        if (first) {
          const location = response.headers.get("Location");
          if (location) st.eventsUrl = new URL(location, response.url || base.href).href;
          st.streamId = other ?? st.streamId;
          state("streaming", { streamId: st.streamId, eventsUrl: st.eventsUrl });
        } else if (other && st.streamId && other !== st.streamId) {
          throw ending(`the resume answered another stream (${other}, not ${st.streamId})`);
        } else {
          state("resumed", { attempt: st.resumes, lastEventId: st.lastEventId });
        }
        const outcome = await read(response, connection, first);
        if (outcome instanceof Verdict) throw outcome.error;
        if (outcome.done) return { ...outcome.done, ...delivered(), eventsUrl: st.eventsUrl };
        reason = outcome.lost;
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      connection.abort();
    }
    const where = resumeUrl();
    if (!where.ok) throw ending(`${reason}; ${where.why}`);
    st.failures += 1;
    st.resumes += 1;
    if (st.failures > maxRetries || st.resumes > maxResumes) {
      st.resumes -= 1;
      const limit = st.failures > maxRetries ? `${maxRetries} attempts in a row` : `${maxResumes} resumes`;
      throw ending(`${reason}; gave up after ${limit}`);
    }
    const delay = backoffDelay(st.failures, st.retry, { retryDelay, minRetryDelay, maxRetryDelay, jitter });
    state("resuming", { attempt: st.failures, maxRetries, delay, reason, lastEventId: st.lastEventId });
    await sleep(delay, signal);
  }

  async function open(target, request, connection) {
    try {
      return await fetchImpl(target, { ...request, cache: "no-store", signal: connection.signal });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      return `cannot connect: ${error.message || error}`;
    }
  }

  // Whether and why not the stream can be resumed: it needs an http(s) events URL, and an
  // id to resume from unless nothing arrived yet (resuming a stream whose events carry no id
  // would repeat them).
  function resumeUrl() {
    if (!st.eventsUrl) return { ok: false, why: "no events URL to resume from" };
    if (!/^https?:$/.test(new URL(st.eventsUrl).protocol)) return { ok: false, why: "the events URL is not http(s)" };
    if (st.lastEventId === null && st.receivedAny) return { ok: false, why: "the events carry no id to resume from" };
    return { ok: true };
  }

  // A GET of the events URL with Last-Event-ID. The caller's headers (its credentials) go
  // only to the origin of the first request: a `Location` or a redirect that leads
  // elsewhere is followed without them. Redirects are followed here, at most
  // `maxRedirects`, so that the origin of each hop is known; a browser hides where a
  // redirect leads (an opaque redirect), so there it is followed with no caller header.
  async function resume(connection) {
    const safe = new Headers({ Accept: callerHeaders.get("Accept") });
    if (st.lastEventId !== null) safe.set("Last-Event-ID", headerValue(st.lastEventId));
    const trusted = new Headers(callerHeaders);
    trusted.delete("Content-Type");
    if (st.lastEventId !== null) trusted.set("Last-Event-ID", headerValue(st.lastEventId));
    let target = st.eventsUrl;
    for (let hops = 0; ; hops += 1) {
      const same = new URL(target).origin === base.origin;
      const request = { method: "GET", headers: same ? trusted : safe, redirect: "manual" };
      if (!same) request.credentials = "omit";
      const response = await open(target, request, connection);
      if (typeof response === "string") return response;
      if (response.type === "opaqueredirect") {
        return open(target, { method: "GET", headers: safe, credentials: "omit" }, connection);
      }
      const location = REDIRECTS.has(response.status) ? response.headers.get("Location") : null;
      if (location === null) return response;
      if (hops >= maxRedirects) {
        return new Verdict(ending(`more than ${maxRedirects} redirects while resuming`, { status: response.status }));
      }
      target = new URL(location, target).href;
    }
  }

  // One connection's events. Returns {done}, {lost: reason} or a Verdict (the stream is
  // over: an error event, a protocol error, the idle timer, another stream).
  async function read(response, connection, first) {
    const reader = response.body.getReader();
    const decoder = new SSEDecoder({ maxEventSize });
    let previousId = null;
    let replaying = false;
    let lost = null;
    let idle = null;
    let readTimer = null;
    let idleTimer = null;
    const armRead = () => {
      clearTimeout(readTimer);
      if (readTimeout > 0) {
        readTimer = setTimeout(() => {
          lost = `no byte for ${readTimeout / 1000} s (readTimeout)`;
          connection.abort();
        }, readTimeout);
      }
    };
    const armIdle = () => {
      clearTimeout(idleTimer);
      if (idleTimeout > 0) {
        idleTimer = setTimeout(() => {
          idle = `no event for ${idleTimeout / 1000} s (idleTimeout)`;
          connection.abort();
        }, idleTimeout);
      }
    };
    armRead();
    armIdle();
    try {
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (signal?.aborted) throw signal.reason;
          if (idle) {
            st.held = null; // the client's own reason ends the stream: interrupted
            return new Verdict(ending(idle));
          }
          return { lost: lost ?? `the connection was lost (${error.message || error})` };
        }
        if (chunk.done) {
          decoder.close();
          return { lost: "the connection closed without a done or error event" };
        }
        armRead();
        st.bytes += chunk.value.byteLength ?? chunk.value.length;
        if (st.bytes > maxBytes) return new Verdict(ending(`the stream exceeded max_bytes (${maxBytes} bytes)`));
        let events;
        try {
          events = decoder.feed(chunk.value);
        } catch (error) {
          if (!(error instanceof SSEProtocolError)) throw error;
          const failure = { code: "protocol_error", message: error.message, retryable: false };
          return new Verdict(new StreamFailed(failure, details()));
        }
        st.events += events.length;
        if (st.events > maxEvents) return new Verdict(ending(`the stream exceeded max_events (${maxEvents} events)`));
        if (decoder.retry !== null) st.retry = decoder.retry;
        for (const sse of events) {
          const ownId = sse.id !== previousId ? sse.id : null;
          previousId = sse.id;
          let event;
          try {
            event = JSON.parse(sse.data);
          } catch {
            continue; // not ours: the protocol's data is always one JSON object
          }
          if (!event || typeof event !== "object" || typeof event.type !== "string") continue;
          // A replay: an event this stream already delivered (its seq is not past the last
          // one, or its id was seen), and the events without an id that follow one.
          if (ownId !== null) {
            const seq = sequence(ownId);
            replaying = seq !== null ? st.lastSeq !== null && seq <= st.lastSeq : st.seenIds.has(ownId);
          }
          const verdict = event.type === "done" || event.type === "error";
          if (event.type === "start" && !first) {
            if (typeof event.stream === "string" && st.streamId && event.stream !== st.streamId) {
              return new Verdict(ending(`the resume answered another stream (${event.stream}, not ${st.streamId})`));
            }
            if (st.started && !replaying) {
              return new Verdict(ending("the server restarted the stream instead of resuming it"));
            }
          }
          // A verdict the server made up at the resume point (shutdown, timeout) carries the
          // id of the event before it: it is not a replay.
          if (replaying && !verdict) continue;
          st.receivedAny = true;
          if (ownId !== null) {
            const seq = sequence(ownId);
            if (seq === null) st.seenIds.add(ownId);
            else if (st.lastSeq === null || seq > st.lastSeq) st.lastSeq = seq;
            st.lastEventId = ownId;
          }
          armIdle();
          if (event.type === "error") {
            const outcome = errorOutcome(event, ownId ?? sse.id);
            if (outcome) return outcome;
            return { lost: `${st.held.error.code}: ${st.held.error.message}` };
          }
          if (!replaying) {
            st.failures = 0;
            st.held = null; // the stream went on after a held error
          }
          if (event.type === "start") {
            st.started = true;
            if (typeof event.stream === "string") st.streamId ??= event.stream;
          }
          const part = answer.apply(event);
          const meta = part ? { id: ownId ?? sse.id, part } : { id: ownId ?? sse.id };
          emit(event, meta);
          if (event.type === "done") return { done: event };
        }
      }
    } finally {
      clearTimeout(readTimer);
      clearTimeout(idleTimer);
      reader.cancel().catch(() => {});
    }
  }

  // An `error` event: the stream's outcome (a Verdict), or null when it is held back and the
  // stream resumes (a retryable error of a server going away). The same error again at the
  // same id was made up at the resume point: the server means it.
  function errorOutcome(event, id) {
    const raw = event.error && typeof event.error === "object" ? event.error : {};
    const error = {
      code: String(raw.code ?? "unknown_error"),
      message: String(raw.message ?? "the stream failed"),
      retryable: Boolean(raw.retryable),
    };
    const again = st.held && st.held.id === id && st.held.error.code === error.code;
    if (error.retryable && RESUMABLE_ERRORS.has(error.code) && resumeUrl().ok && !again) {
      st.held = { error, event, id };
      return null;
    }
    st.held = null;
    emit(event, { id });
    return new Verdict(new StreamFailed(error, details()));
  }
}

function isBodyInit(body) {
  return (
    (typeof Blob !== "undefined" && body instanceof Blob) ||
    (typeof FormData !== "undefined" && body instanceof FormData) ||
    (typeof URLSearchParams !== "undefined" && body instanceof URLSearchParams) ||
    (typeof ReadableStream !== "undefined" && body instanceof ReadableStream) ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body)
  );
}
