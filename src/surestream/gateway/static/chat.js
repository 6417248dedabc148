// The chat page of the gateway: one conversation, streamed with surestream.js.
//
// The status line is the page's promise: it only ever says what the client knows. "Done"
// appears on a `done` event and nothing else; a closed connection is "connection lost,
// resuming", then "resumed" or "interrupted"; an `error` event or a refused request is
// "failed" with the server's message; Stop asks the server to cancel (DELETE) and shows
// "stopped" when the server confirms with `done` / `cancelled`. The answer's parts (text,
// reasoning, tool cards, steps) render in place as they stream (parts.js), the text as
// Markdown built into DOM nodes, never HTML (markdown.js).

import { MarkdownView } from "./markdown.js";
import { AnswerView } from "./parts.js";
import { stream, StreamFailed, StreamInterrupted } from "./surestream.js";

const KEY_STORAGE = "surestream.apiKey";
const MODEL_STORAGE = "surestream.model";

const $ = (id) => document.getElementById(id);
const form = $("prompt-form");
const prompt = $("prompt");
const sendButton = $("send");
const stopButton = $("stop");
const modelSelect = $("model");
const transcript = $("transcript");
const statusLine = $("status");
const statusText = $("status-text");
const authSection = $("auth");
const authForm = $("auth-form");
const keyInput = $("api-key");

const history = [];
let current = null; // the running exchange: {controller, streamId, stopping}

function apiKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function setStatus(state, text) {
  statusLine.dataset.state = state;
  statusText.textContent = text;
}

function pluralize(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

async function loadModels() {
  let response;
  try {
    response = await fetch("/v1/models", { headers: authHeaders(), cache: "no-store" });
  } catch (error) {
    setStatus("failed", `Failed: cannot reach the gateway (${error.message})`);
    return;
  }
  if (response.status === 401) {
    authSection.hidden = false;
    modelSelect.disabled = true;
    modelSelect.replaceChildren(new Option("API key needed", ""));
    setStatus("idle", apiKey() ? "That API key was refused — enter another" : "Enter an API key to start");
    keyInput.focus();
    return;
  }
  if (!response.ok) {
    setStatus("failed", `Failed: cannot list models (HTTP ${response.status})`);
    return;
  }
  const body = await response.json();
  const names = (body.data || []).map((model) => model.id);
  const saved = sessionStorage.getItem(MODEL_STORAGE);
  modelSelect.replaceChildren(...names.map((name) => new Option(name, name)));
  modelSelect.value = names.includes(saved) ? saved : names.includes("demo") ? "demo" : names[0] || "";
  modelSelect.disabled = names.length === 0;
  authSection.hidden = true;
  if (statusLine.dataset.state === "idle") setStatus("idle", names.length ? "Ready" : "No models");
}

function addMessage(role, label) {
  $("empty")?.remove();
  const article = document.createElement("article");
  article.className = `message ${role}`;
  const who = document.createElement("div");
  who.className = "who";
  who.textContent = label;
  const content = document.createElement("div");
  content.className = "content";
  article.append(who, content);
  if (role === "assistant") {
    const note = document.createElement("div");
    note.className = "note";
    note.setAttribute("aria-hidden", "true");
    const meta = document.createElement("div");
    meta.className = "meta";
    article.append(note, meta);
  }
  transcript.append(article);
  return article;
}

function nearBottom() {
  return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
}

function scrollDown() {
  transcript.scrollTop = transcript.scrollHeight;
}

function setRunning(running) {
  sendButton.disabled = running;
  stopButton.disabled = !running;
  modelSelect.disabled = running || modelSelect.options.length === 0;
}

function doneText(done, elapsed) {
  const words = done.usage?.completion_tokens;
  const size = typeof words === "number" ? pluralize(words, "token") : pluralize(done.text.length, "character");
  switch (done.finish_reason) {
    case "cancelled":
      return ["stopped", `Stopped — you cancelled the answer after ${seconds(elapsed)}`];
    case "length":
      return ["done", `Done — cut at the token limit · ${size} · ${seconds(elapsed)}`];
    case "content_filter":
      return ["done", `Done — cut by the content filter · ${seconds(elapsed)}`];
    case "tool_calls":
      return ["done", `Done — the model asked for a tool · ${seconds(elapsed)}`];
    default:
      return ["done", `Done · ${size} · ${seconds(elapsed)}`];
  }
}

async function send() {
  const text = prompt.value.trim();
  if (!text || current || !modelSelect.value) return;
  const model = modelSelect.value;
  history.push({ role: "user", content: text });
  addMessage("user", "You").querySelector(".content").textContent = text;
  const answer = addMessage("assistant", model);
  const content = answer.querySelector(".content");
  const note = answer.querySelector(".note");
  const meta = answer.querySelector(".meta");
  const view = new AnswerView(content, { textView: (node) => new MarkdownView(node) });
  answer.setAttribute("aria-busy", "true");
  answer.dataset.state = "streaming";
  prompt.value = "";
  autosize();
  scrollDown();

  const controller = new AbortController();
  current = { controller, streamId: null, stopping: false };
  const exchange = current;
  setRunning(true);
  setStatus("connecting", "Sending…");
  const started = performance.now();

  try {
    const done = await stream("/v1/chat/stream", {
      method: "POST",
      body: { model, messages: history.slice() },
      headers: authHeaders(),
      signal: controller.signal,
      onEvent(event, { part }) {
        const follow = nearBottom();
        switch (event.type) {
          case "state":
            if (event.streamId) exchange.streamId = event.streamId;
            if (exchange.stopping) break;
            if (event.state === "streaming") setStatus("streaming", "Streaming…");
            else if (event.state === "resuming") {
              setStatus(
                "resuming",
                `Connection lost — resuming (attempt ${event.attempt} of ${event.maxRetries})…`,
              );
            } else if (event.state === "resumed") setStatus("resumed", "Resumed — streaming");
            break;
          case "start":
            exchange.streamId ??= event.stream;
            break;
          case "status":
            note.textContent = event.message;
            break;
          default:
            break;
        }
        if (part) view.render(part);
        if (follow) scrollDown();
      },
    });
    const [state, message] = doneText(done, performance.now() - started);
    setStatus(state, message);
    answer.dataset.state = state;
    meta.textContent = done.finish_reason === "cancelled" ? "stopped" : "";
    if (done.text) history.push({ role: "assistant", content: done.text });
  } catch (error) {
    // Nothing shown yet: the bubble says what went wrong instead of staying empty.
    const nothing = view.empty;
    const incomplete = nothing ? "no answer" : "the answer is incomplete";
    let problem = null;
    if (error instanceof StreamFailed) {
      problem = `${error.error.message} (${error.code})`;
      setStatus("failed", `Failed: ${problem}`);
      answer.dataset.state = "failed";
      meta.textContent = `failed — ${incomplete}`;
    } else if (error instanceof StreamInterrupted) {
      problem = `Interrupted: ${error.reason}`;
      setStatus("interrupted", `${problem} — ${incomplete}`);
      answer.dataset.state = "interrupted";
      meta.textContent = `interrupted — ${incomplete}`;
    } else if (controller.signal.aborted) {
      const why = exchange.stopReason ? ` (${exchange.stopReason})` : "";
      setStatus("stopped", `Stopped in this tab${why}`);
      answer.dataset.state = "stopped";
      meta.textContent = "stopped";
    } else {
      problem = `${error.message || error}`;
      setStatus("failed", `Failed: ${problem}`);
      answer.dataset.state = "failed";
    }
    if (problem && nothing) view.showProblem(problem);
  } finally {
    view.finish();
    note.textContent = "";
    answer.setAttribute("aria-busy", "false");
    current = null;
    setRunning(false);
    prompt.focus();
  }
}

async function stop() {
  const exchange = current;
  if (!exchange || exchange.stopping) return;
  exchange.stopping = true;
  stopButton.disabled = true;
  setStatus("stopping", "Stopping…");
  if (!exchange.streamId) {
    exchange.controller.abort();
    return;
  }
  // The server's verdict ends the stream: subscribers get done / cancelled.
  try {
    const response = await fetch(`/v1/streams/${encodeURIComponent(exchange.streamId)}`, {
      method: "DELETE",
      headers: authHeaders(),
    });
    if (!response.ok && response.status !== 404 && response.status !== 410) {
      exchange.stopReason = `the server answered HTTP ${response.status}`;
      exchange.controller.abort();
    }
  } catch (error) {
    exchange.stopReason = `the server could not be told: ${error.message}`;
    exchange.controller.abort();
  }
}

function autosize() {
  prompt.style.height = "auto";
  prompt.style.height = `${Math.min(prompt.scrollHeight, 220)}px`;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});
prompt.addEventListener("input", autosize);
stopButton.addEventListener("click", stop);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && current) stop();
});
modelSelect.addEventListener("change", () => sessionStorage.setItem(MODEL_STORAGE, modelSelect.value));
authForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY_STORAGE, key);
  keyInput.value = "";
  loadModels();
});

loadModels();
prompt.focus();
