// The AI SDK's chat core (`AbstractChat`) with `DefaultChatTransport` pointed at the gateway's
// `/v1/ui/chat`, no custom fetch or request preparation. Prints one JSON line.
// Usage: node ui_chat.mjs BASE_URL SCENARIO [OPTIONS_JSON]
//   turns:     send each of options.prompts in turn; the messages and each turn's finish
//   reconnect: send options.prompts[0]; once its first text arrives, a second chat with the
//              same id resumes (`resumeStream`); then resume once more after the end
//   tools:     send options.prompts[0]; every tool call the model makes is answered with
//              options.toolOutput (`addToolOutput` in `onToolCall`), and the chat sends the
//              outputs back by itself (`lastAssistantMessageIsCompleteWithToolCalls`)
import {
  AbstractChat,
  DefaultChatTransport,
  lastAssistantMessageIsCompleteWithToolCalls,
} from "ai";

const [base, scenario, optionsJson = "{}"] = process.argv.slice(2);
const options = JSON.parse(optionsJson);

class State {
  status = "ready";
  error = undefined;
  messages = [];
  pushMessage = (m) => void this.messages.push(m);
  popMessage = () => void this.messages.pop();
  replaceMessage = (i, m) => void (this.messages[i] = m);
  snapshot = (thing) => structuredClone(thing);
}

function chat(id, finishes, onText, init = {}) {
  const transport = new DefaultChatTransport({
    api: `${base}/v1/ui/chat`,
    headers: options.headers ?? {},
    body: options.body ?? {},
  });
  const state = new State();
  const instance = new (class extends AbstractChat {})({
    id,
    transport,
    state,
    onFinish: ({ finishReason, isError, isDisconnect, isAbort }) =>
      finishes.push({ finishReason: finishReason ?? null, isError, isDisconnect, isAbort }),
    onError: (error) => finishes.push({ error: String(error?.message ?? error) }),
    ...init,
  });
  if (onText) {
    const push = state.replaceMessage;
    state.replaceMessage = (i, m) => {
      push(i, m);
      onText(m);
    };
  }
  return { instance, state };
}

const textOf = (message) =>
  message.parts.filter((p) => p.type === "text").map((p) => p.text).join("");

const out = {};
if (scenario === "turns") {
  const finishes = [];
  const { instance, state } = chat(options.chatId ?? "chat-turns", finishes);
  for (const text of options.prompts) await instance.sendMessage({ text });
  Object.assign(out, { finishes, status: state.status, messages: state.messages });
} else if (scenario === "reconnect") {
  const id = options.chatId ?? "chat-reconnect";
  const finishes = [], resumedFinishes = [], afterFinishes = [];
  let resumed = null;
  let started;
  const firstText = new Promise((resolve) => (started = resolve));
  const first = chat(id, finishes, (m) => textOf(m) && started());
  const sending = first.instance.sendMessage({ text: options.prompts[0] });
  await firstText;
  const second = chat(id, resumedFinishes);
  await second.instance.resumeStream();
  resumed = second.state.messages;
  await sending;
  const third = chat(id, afterFinishes);
  await third.instance.resumeStream();
  Object.assign(out, {
    original: first.state.messages,
    finishes,
    resumed,
    resumedFinishes,
    after: third.state.messages,
    afterFinishes,
    afterStatus: third.state.status,
  });
} else if (scenario === "tools") {
  // At most options.maxRequests requests, so a chat that keeps sending stops and shows it.
  const finishes = [], calls = [];
  const maxRequests = options.maxRequests ?? 3;
  let instance;
  const init = {
    sendAutomaticallyWhen: (arg) =>
      finishes.length < maxRequests && lastAssistantMessageIsCompleteWithToolCalls(arg),
    onToolCall: ({ toolCall }) => {
      calls.push(toolCall);
      const { toolName: tool, toolCallId } = toolCall;
      void instance.addToolOutput({ tool, toolCallId, output: options.toolOutput });
    },
  };
  const made = chat(options.chatId ?? "chat-tools", finishes, undefined, init);
  instance = made.instance;
  await instance.sendMessage({ text: options.prompts[0] });
  // The chat sends the tool outputs by itself once the first answer settled: wait for it.
  while (made.state.status !== "ready" && made.state.status !== "error") {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  Object.assign(out, { finishes, calls, status: made.state.status, messages: made.state.messages });
}
console.log(JSON.stringify(out));
