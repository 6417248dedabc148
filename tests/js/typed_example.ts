// A typed use of the surestream package, checked by `tsc` (tests/jsclient/test_package.py):
// it resolves "surestream" through the package's `exports` and `types`, narrows every event
// type, and the `@ts-expect-error` lines prove the declarations are not `any`.
import {
  Answer,
  SSEDecoder,
  StreamFailed,
  StreamInterrupted,
  backoffDelay,
  stream,
  type KnownEvent,
  type Part,
  type StreamResult,
  type ToolPart,
} from "surestream";

export function describe(event: KnownEvent): string {
  switch (event.type) {
    case "start":
      return `start ${event.stream ?? "?"} ${event.model ?? "?"}`;
    case "text":
    case "reasoning":
      return event.text;
    case "tool_call_start":
      return `${event.id} ${event.name}`;
    case "tool_call_delta":
      return event.args;
    case "tool_call":
      return `${event.name}(${JSON.stringify(event.args)})`;
    case "tool_result":
      return event.error ?? JSON.stringify(event.output);
    case "step":
      return event.name ?? "step";
    case "status":
      return event.message;
    case "data":
      return event.name ?? "data";
    case "done":
      return event.finish_reason;
    case "error":
      return `${event.error.code}: ${event.error.message} ${event.error.retryable}`;
    default: {
      const never: never = event; // every known type is handled above
      return never;
    }
  }
}

export function render(part: Part): string {
  if (part.type === "tool") return `${part.name ?? "tool"} ${part.state} ${part.argsText}`;
  if (part.type === "step") return part.name ?? "";
  return part.text;
}

export async function ask(base: string, signal: AbortSignal): Promise<string> {
  const shown: string[] = [];
  try {
    const done: StreamResult = await stream(new URL("/v1/chat/stream", base), {
      method: "POST",
      body: { model: "demo", messages: [{ role: "user", content: "Hello" }] },
      headers: { Authorization: "Bearer key" },
      signal,
      maxRetries: 3,
      onEvent(event, meta) {
        if (event.type === "state") {
          if (event.state === "resuming") shown.push(`retry ${event.attempt}/${event.maxRetries} in ${event.delay}`);
          return;
        }
        if (meta.part) shown.push(render(meta.part));
        shown.push(describe(event));
      },
    });
    const calls: ToolPart[] = done.toolCalls;
    // @ts-expect-error: a finish_reason is a string, not a number
    const wrong: number = done.finish_reason;
    void wrong;
    return `${done.text} ${done.reasoning} ${calls.length} ${done.parts.length} ${done.streamId} ${done.eventsUrl}`;
  } catch (error) {
    if (error instanceof StreamFailed) return `${error.code} ${error.status ?? ""} ${error.retryable} ${error.text}`;
    if (error instanceof StreamInterrupted) return `${error.reason} ${error.attempts} ${error.lastEventId}`;
    throw error;
  }
}

export function fold(events: KnownEvent[]): Answer {
  const answer = new Answer();
  for (const event of events) answer.apply(event);
  // @ts-expect-error: parts are read-only on the Answer
  answer.parts = [];
  return answer;
}

export function decode(chunks: Uint8Array[]): string[] {
  const decoder = new SSEDecoder({ maxEventSize: 4096 });
  const data = chunks.flatMap((chunk) => decoder.feed(chunk).map((event) => event.data));
  decoder.close();
  // @ts-expect-error: the decoder takes bytes or text only
  decoder.feed(42);
  return [...data, decoder.lastEventId ?? "", String(backoffDelay(1, decoder.retry))];
}

// @ts-expect-error: an unknown option is refused
void stream("/x", { retries: 3 });
// @ts-expect-error: events carry their documented fields only
export const bad = (event: KnownEvent) => event.type === "tool_call" && event.text;
