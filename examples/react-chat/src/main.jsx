// The page's entry: which chat, which gateway, which model; then the chat itself.
//
// The chat id lives in the URL (?chat=...), so a reload finds the same chat: its messages come
// back from sessionStorage and `useChat({resume: true})` reattaches to an answer still
// streaming (GET /v1/ui/chat/{id}/stream on the gateway).
import { generateId } from "ai";
import { createRoot } from "react-dom/client";
import { Chat } from "./Chat.jsx";

const DEFAULT_GATEWAY = "http://127.0.0.1:8000";

const params = new URLSearchParams(location.search);
if (!params.get("chat")) {
  params.set("chat", generateId());
  history.replaceState(null, "", `?${params}`);
}

createRoot(document.getElementById("root")).render(
  <Chat
    id={params.get("chat")}
    gateway={params.get("gateway") ?? DEFAULT_GATEWAY}
    model={params.get("model")}
  />,
);
