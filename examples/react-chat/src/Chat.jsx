// A chat with `useChat` from @ai-sdk/react against the surestream gateway, with no glue:
// `DefaultChatTransport` posts to the gateway's /v1/ui/chat (the AI SDK's own request body)
// and reads the UI message stream it answers; `resume: true` reconnects to a running answer
// after a reload. Tools the model calls are run here, in the page, and their outputs sent
// back: the answer continues in the same message.
import { useChat } from "@ai-sdk/react";
import { DefaultChatTransport, lastAssistantMessageIsCompleteWithToolCalls } from "ai";
import { useEffect, useMemo, useState } from "react";

/** Tools this page runs when the model calls them (the model is offered them by the
 * gateway's upstream). */
const TOOLS = {
  get_weather: ({ city }) => ({ city, temperature: 21, sky: "clear" }),
};

const storageKey = (id) => `surestream-react-chat:${id}`;

function savedMessages(id) {
  try {
    return JSON.parse(sessionStorage.getItem(storageKey(id)) ?? "[]");
  } catch {
    return [];
  }
}

/** What a reload should show: the conversation, without an answer still on its way (the
 * resumed stream brings that one back whole, from its start). */
function settled(messages, status) {
  const pending = status !== "ready" && messages.at(-1)?.role === "assistant";
  return pending ? messages.slice(0, -1) : messages;
}

export function Chat({ id, gateway, model }) {
  const [initial] = useState(() => savedMessages(id));
  const transport = useMemo(
    () => new DefaultChatTransport({ api: `${gateway}/v1/ui/chat`, body: model ? { model } : {} }),
    [gateway, model],
  );
  const { messages, sendMessage, addToolOutput, status, error, stop } = useChat({
    id,
    messages: initial,
    transport,
    resume: true,
    sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithToolCalls,
    onToolCall: ({ toolCall }) => {
      const { toolName: tool, toolCallId, input } = toolCall;
      const run = TOOLS[tool];
      // Not awaited: the chat sends the outputs once every call of the step has one.
      if (run) addToolOutput({ tool, toolCallId, output: run(input) });
      else addToolOutput({ tool, toolCallId, state: "output-error", errorText: `no tool ${tool}` });
    },
  });
  useEffect(() => {
    sessionStorage.setItem(storageKey(id), JSON.stringify(settled(messages, status)));
  }, [id, messages, status]);

  const [input, setInput] = useState("");
  const busy = status === "submitted" || status === "streaming";
  const submit = (event) => {
    event.preventDefault();
    if (!input.trim() || busy) return;
    sendMessage({ text: input });
    setInput("");
  };

  return (
    <main>
      <h1>surestream × useChat</h1>
      {messages.map((message) => (
        <Message key={message.id} message={message} />
      ))}
      <p id="status" data-status={status}>
        {busy ? "answering…" : status === "error" ? "stopped" : "ready"}
      </p>
      {error && <ErrorLine error={error} />}
      <form onSubmit={submit}>
        <input
          id="prompt"
          value={input}
          onChange={(event) => setInput(event.target.value)}
          placeholder="Ask anything…"
          aria-label="Message"
        />
        {busy ? (
          <button id="stop" type="button" onClick={stop}>
            Stop
          </button>
        ) : (
          <button id="send" type="submit">
            Send
          </button>
        )}
      </form>
    </main>
  );
}

function ErrorLine({ error }) {
  // A TypeError from fetch is the connection, not the answer: the gateway kept generating.
  const lost = error instanceof TypeError;
  return (
    <p id="error" className="error" role="alert" data-kind={lost ? "connection" : "answer"}>
      {lost ? "Connection lost. Reload the page: the answer continues where it is." : error.message}
    </p>
  );
}

function Message({ message }) {
  return (
    <div className="message" data-role={message.role}>
      {message.parts.map((part, index) => (
        <Part key={index} part={part} />
      ))}
    </div>
  );
}

function Part({ part }) {
  if (part.type === "text") return <span className="text">{part.text}</span>;
  if (part.type === "reasoning") return <div className="reasoning">{part.text}</div>;
  if (part.type.startsWith("tool-") || part.type === "dynamic-tool") {
    const name = part.toolName ?? part.type.slice("tool-".length);
    const outcome = part.state === "output-error" ? part.errorText : JSON.stringify(part.output);
    return (
      <div className="tool" data-tool={name} data-state={part.state}>
        {name}({JSON.stringify(part.input)}){part.output !== undefined || part.errorText ? ` → ${outcome}` : ""}
      </div>
    );
  }
  return null;
}
