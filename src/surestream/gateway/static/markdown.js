// Markdown for the chat page, rendered safely: model output becomes DOM nodes built with
// `createElement` and `textContent`, never HTML.
//
// Strategy: `renderMarkdown(target, text)` replaces `target`'s children with the blocks of
// `text` — paragraphs (a newline is a line break), ATX headings, fenced code blocks (an
// unclosed fence runs to the end, so a block streams in as a block), bullet and ordered
// lists (nested by indentation), block quotes, GFM tables and rules — and their inlines:
// code spans, strong, emphasis, strikethrough, links, autolinks and bare URLs. Raw HTML in
// the text is text: `<script>` shows as `<script>`. A link keeps only an `http:`, `https:`
// or `mailto:` URL (anything else, `javascript:` and `data:` included, stays plain text),
// opens in a new tab with `rel="noopener noreferrer nofollow"`. Images are links to the
// image, labelled with their alt text: the page loads nothing a model names.

const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const LINK_REL = "noopener noreferrer nofollow";
const MAX_NESTING = 16;

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])([ \t]+(.*))?$/;
const TABLE_RULE = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const PUNCTUATION = /[!-/:-@[-`{-~]/;
const BARE_URL = /^(?:https?:\/\/|mailto:)[^\s<>"]+/i;

function el(tag, children = [], className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

/** `href` as an absolute URL if its protocol is safe to link to, else null. */
export function safeHref(href) {
  let url;
  try {
    url = new URL(href.trim(), document.baseURI);
  } catch {
    return null;
  }
  return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
}

function link(href, children) {
  const a = el("a", children);
  a.href = href;
  a.rel = LINK_REL;
  a.target = "_blank";
  return a;
}

/** Replace `target`'s children with the Markdown `text` rendered as DOM nodes. */
export function renderMarkdown(target, text) {
  target.replaceChildren(...render(text));
}

function render(text) {
  return blocks(text.split(/\r\n|\r|\n/), 0);
}

/**
 * A growing Markdown text in `target`: `update(text)` re-renders only what can still change.
 * The text up to the last settled block boundary — a complete line after a blank line,
 * outside any code fence, that neither is indented nor starts a list item, so no later text
 * can change the blocks before it — is rendered once; only the tail after it is rebuilt.
 */
export class MarkdownView {
  constructor(target) {
    this.target = target;
    this._settled = 0;
    this._live = [];
  }

  update(text) {
    if (text.length < this._settled) {
      this.target.replaceChildren();
      this._settled = 0;
      this._live = [];
    }
    for (const node of this._live) node.remove();
    const cut = settledEnd(text, this._settled);
    if (cut > this._settled) {
      this.target.append(...render(text.slice(this._settled, cut)));
      this._settled = cut;
    }
    this._live = render(text.slice(this._settled));
    this.target.append(...this._live);
  }
}

function settledEnd(text, from) {
  const lineEnd = /\r\n|\r|\n/g;
  lineEnd.lastIndex = from;
  let cut = from;
  let start = from;
  let blank = false;
  let fence = null;
  let match;
  while ((match = lineEnd.exec(text))) {
    const line = text.slice(start, match.index);
    if (fence) {
      if (fence.test(line)) fence = null;
    } else if (!line.trim()) {
      blank = true;
    } else {
      if (blank && !/^\s/.test(line) && !ITEM.test(line)) cut = start;
      blank = false;
      const open = FENCE.exec(line);
      if (open) fence = closingFence(open[1]);
    }
    start = lineEnd.lastIndex;
  }
  return cut;
}

function closingFence(fence) {
  return new RegExp(`^ {0,3}${fence[0] === "`" ? "`" : "~"}{${fence.length},}[ \\t]*$`);
}

function blocks(lines, depth) {
  const out = [];
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) out.push(el("p", inline(paragraph.join("\n").trim(), depth)));
    paragraph = [];
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let match;
    if (!line.trim()) {
      flush();
      i += 1;
    } else if ((match = FENCE.exec(line))) {
      flush();
      i = fencedCode(lines, i, match, out);
    } else if ((match = HEADING.exec(line))) {
      flush();
      out.push(el(`h${match[1].length}`, inline(match[2] ?? "", depth)));
      i += 1;
    } else if (RULE.test(line)) {
      flush();
      out.push(el("hr"));
      i += 1;
    } else if (depth < MAX_NESTING && QUOTE.test(line)) {
      flush();
      const quoted = [];
      while (i < lines.length && (match = QUOTE.exec(lines[i]))) {
        quoted.push(match[1]);
        i += 1;
      }
      out.push(el("blockquote", blocks(quoted, depth + 1)));
    } else if (depth < MAX_NESTING && ITEM.test(line) && (!paragraph.length || startsList(line))) {
      flush();
      i = list(lines, i, depth, out);
    } else if (!paragraph.length && isTable(line, lines[i + 1])) {
      i = table(lines, i, depth, out);
    } else {
      paragraph.push(line);
      i += 1;
    }
  }
  flush();
  return out;
}

// Only a bullet or `1.` interrupts a paragraph ("in 2019. we" stays a sentence).
function startsList(line) {
  return /^ {0,3}([-*+]|1[.)])/.test(line);
}

function isTable(header, rule) {
  return (
    rule !== undefined && header.includes("|") && TABLE_RULE.test(rule) && cells(header).length === cells(rule).length
  );
}

function fencedCode(lines, start, match, out) {
  const [, fence, lang] = match;
  const closing = closingFence(fence);
  const body = [];
  let i = start + 1;
  while (i < lines.length && !closing.test(lines[i])) body.push(lines[i++]);
  const code = el("code", [body.join("\n")]);
  if (/^[\w+#.-]{1,32}$/.test(lang)) code.className = `language-${lang}`;
  out.push(el("pre", [code]));
  return i + 1;
}

function itemKind(marker) {
  return /\d/.test(marker) ? marker.slice(-1) : marker;
}

function list(lines, start, depth, out) {
  const first = ITEM.exec(lines[start]);
  const kind = itemKind(first[2]);
  const ordered = /\d/.test(first[2]);
  const items = [];
  let loose = false;
  let i = start;
  let match;
  while (i < lines.length && (match = ITEM.exec(lines[i])) && itemKind(match[2]) === kind) {
    const indent = match[1].length + match[2].length + 1;
    const body = [match[4] ?? ""];
    i += 1;
    let blank = false;
    while (i < lines.length) {
      const line = lines[i];
      const indented = line.length - line.trimStart().length >= indent;
      if (!line.trim()) {
        blank = true;
        body.push("");
      } else if (indented) {
        if (blank) loose = true;
        blank = false;
        body.push(line.slice(indent));
      } else if (!blank && !ITEM.test(line) && !FENCE.test(line) && !HEADING.test(line) && !QUOTE.test(line)) {
        body.push(line); // a lazy continuation of the item's paragraph
      } else {
        break;
      }
      i += 1;
    }
    while (body.length && !body[body.length - 1].trim()) body.pop();
    if (blank && i < lines.length && ITEM.test(lines[i])) loose = true;
    items.push(body);
  }
  const node = el(ordered ? "ol" : "ul");
  const number = Number.parseInt(first[2], 10);
  if (ordered && number !== 1) node.start = number;
  for (const body of items) {
    const children = blocks(body, depth + 1);
    const li = el("li");
    for (const child of children) {
      if (!loose && child.tagName === "P") li.append(...child.childNodes);
      else li.append(child);
    }
    node.append(li);
  }
  out.push(node);
  return i;
}

function cells(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim());
}

function table(lines, start, depth, out) {
  const align = cells(lines[start + 1]).map((cell) => {
    const left = cell.startsWith(":");
    const right = cell.endsWith(":");
    return left && right ? "center" : right ? "right" : left ? "left" : "";
  });
  const row = (line, tag) => {
    const values = cells(line);
    return el(
      "tr",
      align.map((how, n) => {
        const cell = el(tag, inline(values[n] ?? "", depth));
        if (how) cell.style.textAlign = how;
        return cell;
      }),
    );
  };
  const body = [];
  let i = start + 2;
  while (i < lines.length && lines[i].trim() && lines[i].includes("|")) body.push(row(lines[i++], "td"));
  const node = el("table", [el("thead", [row(lines[start], "th")])]);
  if (body.length) node.append(el("tbody", body));
  out.push(el("div", [node], "table-wrap"));
  return i;
}

// Inlines: one left-to-right scan; a construct that does not close is literal text.
function inline(text, depth, inLink = false) {
  const out = [];
  let plain = "";
  const push = (node) => {
    if (plain) out.push(plain);
    plain = "";
    out.push(node);
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    const rest = text.slice(i);
    let m;
    if (ch === "\\" && i + 1 < text.length && PUNCTUATION.test(text[i + 1])) {
      plain += text[i + 1];
      i += 2;
    } else if (ch === "\\" && text[i + 1] === "\n") {
      push(el("br"));
      i += 2;
    } else if (ch === "\n") {
      push(el("br"));
      i += 1;
    } else if (ch === "`" && (m = /^(`+)([^]*?[^`])\1(?!`)/.exec(rest))) {
      let code = m[2].replace(/\n/g, " ");
      if (code.length > 2 && code.startsWith(" ") && code.endsWith(" ")) code = code.slice(1, -1);
      push(el("code", [code]));
      i += m[0].length;
    } else if (ch === "`" && (m = /^`+/.exec(rest))) {
      plain += m[0];
      i += m[0].length;
    } else if (!inLink && ch === "<" && (m = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i.exec(rest)) && safeHref(m[1])) {
      push(link(safeHref(m[1]), [m[1]]));
      i += m[0].length;
    } else if ((ch === "[" || (ch === "!" && text[i + 1] === "[")) && (m = linkAt(text, i + (ch === "!" ? 1 : 0)))) {
      const href = inLink ? null : safeHref(m.href);
      const label = ch === "!" ? [m.label || "image"] : inline(m.label, depth + 1, true);
      if (href) {
        push(link(href, label));
      } else {
        if (plain) out.push(plain);
        plain = "";
        out.push(...label);
      }
      i = m.end;
    } else if (!inLink && /[hm]/i.test(ch) && !/\w/.test(text[i - 1] ?? "") && (m = BARE_URL.exec(rest))) {
      const url = trimUrl(m[0]);
      const href = safeHref(url);
      if (href) push(link(href, [url]));
      else plain += url;
      i += url.length;
    } else if ((ch === "*" || ch === "_" || ch === "~") && depth < MAX_NESTING && (m = emphasisAt(text, i))) {
      push(el(m.tag, inline(m.inner, depth + 1, inLink)));
      i = m.end;
    } else {
      plain += ch;
      i += 1;
    }
  }
  if (plain) out.push(plain);
  return out;
}

function trimUrl(url) {
  let end = url.length;
  while (end > 0 && /[.,:;!?'"*_~]/.test(url[end - 1])) end -= 1;
  let trimmed = url.slice(0, end);
  while (trimmed.endsWith(")") && (trimmed.match(/\(/g) ?? []).length < (trimmed.match(/\)/g) ?? []).length) {
    trimmed = trimmed.slice(0, -1);
  }
  return trimmed;
}

// `[label](href "title")` starting at `start` (the `[`): {label, href, end} or null.
function linkAt(text, start) {
  let depth = 0;
  let close = -1;
  for (let i = start; i < text.length; i++) {
    if (text[i] === "\\") i += 1;
    else if (text[i] === "[") depth += 1;
    else if (text[i] === "]" && --depth === 0) {
      close = i;
      break;
    }
  }
  if (close < 0 || text[close + 1] !== "(") return null;
  const tail = /^\(\s*(?:<([^<>\n]*)>|((?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*))(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/.exec(
    text.slice(close + 1),
  );
  if (!tail) return null;
  const href = (tail[1] ?? tail[2]).replace(/\\([!-/:-@[-`{-~])/g, "$1");
  return { label: text.slice(start + 1, close), href, end: close + 1 + tail[0].length };
}

// `**strong**`, `__strong__`, `*em*`, `_em_`, `~~del~~` starting at `start`, or null.
function emphasisAt(text, start) {
  const ch = text[start];
  const run = /^([*_~])\1*/.exec(text.slice(start))[0];
  if (ch === "~" && run.length !== 2) return null;
  const size = ch === "~" ? 2 : Math.min(run.length, 2);
  const marker = ch.repeat(size);
  const after = text[start + size];
  if (after === undefined || /\s/.test(after)) return null;
  if (ch === "_" && /\w/.test(text[start - 1] ?? "")) return null;
  for (let i = start + size + 1; i <= text.length - size; i++) {
    if (text[i] === "\\") {
      i += 1;
      continue;
    }
    if (text[i] === "`") {
      const code = /^(`+)[^]*?[^`]\1(?!`)/.exec(text.slice(i));
      if (code) i += code[0].length - 1;
      continue;
    }
    if (text.startsWith(marker, i) && !/\s/.test(text[i - 1]) && text[i + size] !== ch) {
      if (ch === "_" && /\w/.test(text[i + size] ?? "")) continue;
      const tag = ch === "~" ? "del" : size === 2 ? "strong" : "em";
      return { tag, inner: text.slice(start + size, i), end: i + size };
    }
  }
  return null;
}
