// The parts of an assistant answer on the chat page: text, a collapsible reasoning block,
// tool-call cards and step dividers, each rendered in place as its events stream in.
//
// Strategy: `surestream.js`'s `Answer` folds the events into parts and `stream()` hands the
// changed part to `onEvent` (`meta.part`); `AnswerView.render(part)` creates the part's
// element the first time and updates it afterwards. Everything from the model is written
// with `textContent` or built as DOM nodes (text parts by `textView`: the page passes
// markdown.js's `MarkdownView`), never parsed as HTML.

const TOOL_STATES = {
  "input-streaming": "calling…",
  "input-available": "called",
  "output-available": "done",
  "output-error": "failed",
};

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const ONE_LINE = 72;

function pretty(value) {
  if (typeof value === "string") return value;
  const compact = JSON.stringify(value);
  return compact.length <= ONE_LINE ? compact : JSON.stringify(value, null, 2);
}

class PlainText {
  constructor(node) {
    this.node = node;
  }

  update(text) {
    this.node.textContent = text;
  }
}

/**
 * Renders the parts of one answer into `container` (the message's `.content`); a text part
 * through `textView(node)`, an object whose `update(text)` shows the part's whole text so far.
 */
export class AnswerView {
  constructor(container, { textView = (node) => new PlainText(node) } = {}) {
    this.container = container;
    this.textView = textView;
    this._texts = new Map();
    this._nodes = new Map();
    this._last = null;
  }

  /** Create or update the element of `part`; returns it. */
  render(part) {
    let node = this._nodes.get(part);
    if (!node) {
      node = this._create(part);
      this._nodes.set(part, node);
      if (this._last && this._last !== part) this._settle(this._last);
      this.container.append(node);
    }
    this._last = part;
    this._update(part, node);
    return node;
  }

  /** No part rendered yet. */
  get empty() {
    return this._nodes.size === 0;
  }

  /** Show why the answer failed, in place of an answer that never came. */
  showProblem(message) {
    this.container.append(element("div", "part problem", message));
  }

  /** The answer ended: nothing is streaming any more. */
  finish() {
    if (this._last) this._settle(this._last);
    this._last = null;
  }

  _create(part) {
    switch (part.type) {
      case "reasoning": {
        const node = element("details", "part reasoning");
        node.open = true;
        const summary = element("summary", "", "Thinking…");
        // Once the reader opens or closes it, the page stops doing so.
        summary.addEventListener("click", () => (node.dataset.touched = "true"));
        node.append(summary, element("div", "reasoning-text"));
        return node;
      }
      case "tool": {
        const node = element("section", "part tool-card");
        const header = element("header", "tool-header");
        header.append(element("span", "tool-name"), element("span", "tool-state"));
        node.append(header, element("div", "tool-label", "Arguments"), element("pre", "tool-args"));
        return node;
      }
      case "step":
        return element("div", "part step");
      default:
        return element("div", `part ${part.type === "text" ? "text" : "other"}`);
    }
  }

  _update(part, node) {
    switch (part.type) {
      case "reasoning":
        node.lastChild.textContent = part.text;
        break;
      case "tool":
        this._updateTool(part, node);
        break;
      case "step":
        node.textContent = part.name ?? "";
        break;
      case "text": {
        let view = this._texts.get(part);
        if (!view) this._texts.set(part, (view = this.textView(node)));
        view.update(part.text);
        break;
      }
      default:
        break;
    }
  }

  _updateTool(part, node) {
    if (node.dataset.state !== part.state) node.dataset.state = part.state;
    node.querySelector(".tool-name").textContent = part.name ?? "tool";
    node.querySelector(".tool-state").textContent = TOOL_STATES[part.state] ?? part.state;
    const complete = part.state !== "input-streaming";
    node.querySelector(".tool-args").textContent = complete ? pretty(part.args ?? {}) : part.argsText;
    if (part.state === "output-available" || part.state === "output-error") {
      node.querySelector(".tool-result")?.remove();
      const result = element("div", "tool-result");
      if (part.state === "output-error") {
        result.append(element("div", "tool-label", "Error"), element("pre", "tool-error", part.error));
      } else {
        result.append(element("div", "tool-label", "Result"), element("pre", "tool-output", pretty(part.output)));
      }
      node.append(result);
    }
  }

  _settle(part) {
    const node = this._nodes.get(part);
    if (part.type === "reasoning" && node) {
      node.querySelector("summary").textContent = "Reasoning";
      if (!node.dataset.touched) node.open = false;
    }
  }
}
