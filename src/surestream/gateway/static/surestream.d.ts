// Type declarations of surestream.js: the events of the native protocol (version 1), the SSE
// decoder, the `Answer` that folds agent events into parts, and `stream()` with its verdicts.

/** Largest event, in decoded characters (UTF-16 code units), before `SSEProtocolError`. */
export declare const DEFAULT_MAX_EVENT_SIZE: number;
/** Reconnection attempts in a row without a new event before `stream()` gives up. */
export declare const DEFAULT_MAX_RETRIES: number;
/** Milliseconds before the first reconnection when the server sent no `retry:`. */
export declare const DEFAULT_RETRY_DELAY: number;
/** Cap on the delay between two reconnection attempts, in ms (before jitter). */
export declare const DEFAULT_MAX_RETRY_DELAY: number;
/** Random extra delay, as a fraction of the delay (0.5: up to 50 % longer). */
export declare const DEFAULT_JITTER: number;
/** Smallest delay between two reconnection attempts, in ms, whatever the server's `retry:`. */
export declare const DEFAULT_MIN_RETRY_DELAY: number;
/** Reconnections in all, new events or not, before `stream()` gives up on one stream. */
export declare const DEFAULT_MAX_RESUMES: number;
/** Redirects one reconnection follows before it is given up (a redirect loop). */
export declare const DEFAULT_MAX_REDIRECTS: number;
/** Body bytes one stream may bring across its connections, decompressed (256 MiB). */
export declare const DEFAULT_MAX_BYTES: number;
/** SSE events one stream may bring across its connections, replays included. */
export declare const DEFAULT_MAX_EVENTS: number;
/** Milliseconds without any byte (heartbeats count) before a connection counts as lost. */
export declare const DEFAULT_READ_TIMEOUT: number;
/** Milliseconds without an event (heartbeats do not count) before the stream is given up. */
export declare const DEFAULT_IDLE_TIMEOUT: number;

// ---- events: one JSON object per SSE message, told apart by `type` ----

/** The first event: the stream's id and the model that answers. */
export interface StartEvent {
  type: "start";
  stream?: string;
  model?: string;
}

/** A piece of the answer's text, to append. */
export interface TextEvent {
  type: "text";
  text: string;
}

/** A piece of the model's reasoning, shown apart from the answer. */
export interface ReasoningEvent {
  type: "reasoning";
  text: string;
}

/** A tool call begins; `tool_call_delta` fragments of its arguments may follow. */
export interface ToolCallStartEvent {
  type: "tool_call_start";
  id: string;
  name: string;
}

/** A fragment of a started call's arguments, as JSON text (not parseable alone). */
export interface ToolCallDeltaEvent {
  type: "tool_call_delta";
  id: string;
  args: string;
}

/** A complete tool call with its parsed arguments (may come without a start). */
export interface ToolCallEvent {
  type: "tool_call";
  id: string;
  name: string;
  args: unknown;
}

/** A tool's outcome: `output`, or `error` (the tool failed; the stream did not). */
export interface ToolResultEvent {
  type: "tool_result";
  id: string;
  output?: unknown;
  error?: string;
}

/** A new model call or agent step begins. */
export interface StepEvent {
  type: "step";
  name?: string;
}

/** A progress note for people ("searching"), not part of the answer. */
export interface StatusEvent {
  type: "status";
  message: string;
}

/** An application-specific JSON payload. */
export interface DataEvent {
  type: "data";
  data: unknown;
  name?: string;
}

/** Why a `done` stream ended (servers may add reasons: handle others as "stop"). */
export type FinishReason = "stop" | "length" | "content_filter" | "tool_calls" | "cancelled";

/** Terminal: the stream finished. */
export interface DoneEvent {
  type: "done";
  done: true;
  finish_reason: FinishReason | (string & {});
  usage?: Record<string, unknown>;
}

/** What went wrong, as an `error` event or a refused request carries it. */
export interface StreamErrorInfo {
  code: string;
  message: string;
  retryable: boolean;
}

/** Terminal: the stream failed. */
export interface ErrorEvent {
  type: "error";
  error: StreamErrorInfo;
}

/** Every event type this version knows. */
export type KnownEvent =
  | StartEvent
  | TextEvent
  | ReasoningEvent
  | ToolCallStartEvent
  | ToolCallDeltaEvent
  | ToolCallEvent
  | ToolResultEvent
  | StepEvent
  | StatusEvent
  | DataEvent
  | DoneEvent
  | ErrorEvent;

/**
 * An event of a type from a newer server. `onEvent` receives these too, typed as
 * `KnownEvent` so that `switch (event.type)` narrows: skip them in a `default:` branch.
 */
export interface UnknownEvent {
  type: string;
  [field: string]: unknown;
}

/** The client's own connection states, passed to `onEvent` with `local: true`. */
export type StateEvent =
  | { type: "state"; local: true; state: "streaming"; streamId: string | null; eventsUrl: string | null }
  | {
      type: "state";
      local: true;
      state: "resuming";
      attempt: number;
      maxRetries: number;
      delay: number;
      reason: string;
      lastEventId: string | null;
    }
  | { type: "state"; local: true; state: "resumed"; attempt: number; lastEventId: string | null };

// ---- the answer as parts ----

export interface TextPart {
  type: "text";
  text: string;
}

export interface ReasoningPart {
  type: "reasoning";
  text: string;
}

export interface StepPart {
  type: "step";
  name: string | null;
}

/** `input-streaming` → `input-available` (complete call) → `output-available` / `output-error`. */
export type ToolState = "input-streaming" | "input-available" | "output-available" | "output-error";

export interface ToolPart {
  type: "tool";
  id: string;
  name: string | null;
  /** The arguments' JSON text as streamed (the complete call's, once it arrived). */
  argsText: string;
  /** The parsed arguments, once the complete `tool_call` arrived. */
  args: unknown;
  state: ToolState;
  output: unknown;
  error: string | null;
}

export type Part = TextPart | ReasoningPart | StepPart | ToolPart;

/** The answer a stream builds, as ordered parts. */
export declare class Answer {
  readonly parts: Part[];
  /** Every `text` event, in order. */
  readonly text: string;
  /** Every `reasoning` event, in order. */
  readonly reasoning: string;
  /** The complete tool calls, with their results when any. */
  readonly toolCalls: ToolPart[];
  /** Fold one event in; the part it changed, or null for events that are not content. */
  apply(event: KnownEvent | UnknownEvent): Part | null;
}

// ---- the SSE decoder ----

export interface DecoderOptions {
  /** Largest event in characters (default `DEFAULT_MAX_EVENT_SIZE`). */
  maxEventSize?: number;
}

/** One dispatched SSE event. */
export interface ServerSentEvent {
  event: string;
  data: string;
  id: string | null;
  retry: number | null;
}

/** The peer sent an event stream the decoder refuses (an event over `maxEventSize`). */
export declare class SSEProtocolError extends Error {
  constructor(message: string);
}

/** Incremental WHATWG-exact SSE decoder, no I/O. */
export declare class SSEDecoder {
  constructor(options?: DecoderOptions);
  readonly maxEventSize: number;
  /** What to send as `Last-Event-ID`. */
  lastEventId: string | null;
  /** The reconnection time the stream set, in ms. */
  retry: number | null;
  /** The events `chunk` completes. */
  feed(chunk: Uint8Array | string): ServerSentEvent[];
  /** End of stream: drop an unterminated block, ready for a new stream. */
  close(): ServerSentEvent[];
}

// ---- stream() and its verdicts ----

/** What a stream had delivered when it ended. */
export interface Delivered {
  text: string;
  reasoning: string;
  toolCalls: ToolPart[];
  parts: Part[];
  lastEventId: string | null;
  streamId: string | null;
}

/** A stream did not end with `done`; it carries what was `Delivered`. */
export declare class StreamError extends Error {}
export interface StreamError extends Delivered {}

/** The stream ended with an `error` event, or was refused with an HTTP error before it started. */
export declare class StreamFailed extends StreamError {
  error: StreamErrorInfo;
  code: string;
  retryable: boolean;
  /** The HTTP status of a refusal, else null. */
  status: number | null;
}

/** The connection ended without a terminal event and resuming failed. */
export declare class StreamInterrupted extends StreamError {
  reason: string;
  attempts: number;
  status: number | null;
}

/** What `onEvent` gets with each event. */
export interface EventMeta {
  /** The event's SSE id. */
  id?: string | null;
  /** The `Answer` part a content event changed (the live object: render it in place). */
  part?: Part;
}

export interface StreamOptions {
  /** `GET` (default) reads an events URL; another method creates and streams. */
  method?: string;
  /** A plain object is sent as JSON; a string, Blob, FormData... as is. */
  body?: unknown;
  headers?: HeadersInit;
  /** Aborts everything: the promise rejects with its reason. */
  signal?: AbortSignal;
  /** Every event once, in order, and the client's own states (see `UnknownEvent`). */
  onEvent?: (event: KnownEvent | StateEvent, meta: EventMeta) => void;
  /** Reconnections in a row without a new event (default `DEFAULT_MAX_RETRIES`). */
  maxRetries?: number;
  /** Reconnections in all (default `DEFAULT_MAX_RESUMES`). */
  maxResumes?: number;
  /** Redirects one reconnection follows (default `DEFAULT_MAX_REDIRECTS`). */
  maxRedirects?: number;
  retryDelay?: number;
  minRetryDelay?: number;
  maxRetryDelay?: number;
  jitter?: number;
  readTimeout?: number;
  idleTimeout?: number;
  maxEventSize?: number;
  /** Body bytes of the stream in all, decompressed (default `DEFAULT_MAX_BYTES`); past it the
   * stream ends interrupted, naming `max_bytes`. */
  maxBytes?: number;
  /** SSE events of the stream in all (default `DEFAULT_MAX_EVENTS`); past it the stream ends
   * interrupted, naming `max_events`. */
  maxEvents?: number;
  /** Your own `fetch` (e.g. with credentials). */
  fetch?: typeof fetch;
}

/** The outcome of a stream that ended with `done`. */
export interface StreamResult extends DoneEvent, Delivered {
  eventsUrl: string | null;
}

/** Read a surestream stream with `fetch`, resuming it when the connection breaks. */
export declare function stream(url: string | URL, options?: StreamOptions): Promise<StreamResult>;

/** Whether a reconnection answered with `status` must not be retried. */
export declare function fatalStatus(status: number): boolean;

export interface BackoffOptions {
  retryDelay?: number;
  minRetryDelay?: number;
  maxRetryDelay?: number;
  jitter?: number;
  random?: () => number;
}

/** Milliseconds to wait before reconnection number `failures` (1 for the first). */
export declare function backoffDelay(failures: number, serverRetry: number | null, options?: BackoffOptions): number;
