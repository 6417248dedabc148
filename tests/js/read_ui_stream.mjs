// Reads a UI message stream with the AI SDK's own parts, the way `DefaultChatTransport` does:
// `parseJsonEventStream` validates every chunk against `uiMessageChunkSchema`, then
// `readUIMessageStream` builds the message. Prints one JSON line:
//   {status, headers, chunks, invalid, message, errors, thrown}
// Usage: node read_ui_stream.mjs URL ['{"method":"POST","headers":{...},"body":"..."}']
//        node read_ui_stream.mjs --many '[[URL, INIT], ...]'   (prints a list of those, in order)
import { parseJsonEventStream } from "@ai-sdk/provider-utils";
import { readUIMessageStream, uiMessageChunkSchema } from "ai";

async function readUIStream(url, init) {
  const response = await fetch(url, init);
  const out = {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    chunks: [],
    invalid: [],
    message: null,
    errors: [],
    thrown: null,
  };
  if (!response.body || !response.ok) {
    out.body = await response.text();
    return out;
  }
  const chunks = parseJsonEventStream({ stream: response.body, schema: uiMessageChunkSchema })
    .pipeThrough(
      new TransformStream({
        transform(parsed, controller) {
          if (!parsed.success) {
            out.invalid.push({ error: String(parsed.error), raw: parsed.rawValue ?? null });
            return;
          }
          out.chunks.push(parsed.value);
          controller.enqueue(parsed.value);
        },
      }),
    );
  try {
    const stream = readUIMessageStream({
      stream: chunks,
      onError: (error) => out.errors.push(String(error?.message ?? error)),
    });
    for await (const message of stream) out.message = message;
  } catch (error) {
    out.thrown = `${error?.name ?? "Error"}: ${error?.message ?? error}`;
  }
  return out;
}

const args = process.argv.slice(2);
if (args[0] === "--many") {
  const results = [];
  for (const [url, init] of JSON.parse(args[1])) results.push(await readUIStream(url, init ?? {}));
  console.log(JSON.stringify(results));
} else {
  const [url, init = "{}"] = args;
  console.log(JSON.stringify(await readUIStream(url, JSON.parse(init))));
}
