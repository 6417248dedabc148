"""``root_agent``: a weather agent whose model is ``FakeLlm``, a ``BaseLlm`` without network.

The model plays the scenario of the last user message (``tests.integrations.fakes``): a
streamed answer with reasoning, one ``get_weather`` call and, after its result, text; or a
fault. It streams the way ``BaseLlm.generate_content_async`` documents: partial responses,
then one ``partial=False`` response that repeats them aggregated.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from google.adk.agents import LlmAgent
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.tools.long_running_tool import LongRunningFunctionTool
from google.genai import types

from tests.integrations import fakes


def get_weather(city: str) -> dict[str, Any]:
    """The weather in ``city``."""
    if city != "Paris":
        return {"error": fakes.TOOL_ERROR}
    return dict(fakes.TOOL_OUTPUT)


def ask_approval(reason: str) -> None:
    """Ask a person to approve (long-running: no result yet, so the run pauses)."""


def _response(parts: list[types.Part], *, partial: bool, **fields: Any) -> LlmResponse:
    return LlmResponse(content=types.Content(role="model", parts=parts), partial=partial, **fields)


def _text(text: str, *, thought: bool = False) -> types.Part:
    return types.Part(text=text, thought=thought or None)


def _call(name: str, args: dict[str, Any]) -> types.Part:
    return types.Part(function_call=types.FunctionCall(id="call_1", name=name, args=args))


_USAGE = types.GenerateContentResponseUsageMetadata(
    prompt_token_count=11, candidates_token_count=7, total_token_count=18
)


class FakeLlm(BaseLlm):
    """A fake model that streams scripted answers and faults, and marks its cancellation."""

    model: str = "fake-llm"

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        user_texts = [
            part.text
            for content in llm_request.contents
            if content.role == "user"
            for part in content.parts or []
            if part.text
        ]
        kind, tag = fakes.scenario(user_texts[-1] if user_texts else "")
        last = llm_request.contents[-1].parts or [] if llm_request.contents else []
        answered = any(part.function_response is not None for part in last)
        async with fakes.model_call(tag):
            if answered:
                async for response in self._final(stream):
                    yield response
                return
            async for response in self._first(kind, tag, stream):
                yield response

    async def _first(self, kind: str, tag: str, stream: bool) -> AsyncGenerator[LlmResponse, None]:
        if kind == "safety":
            yield LlmResponse(
                error_code="SAFETY",
                error_message="fake model refused",
                finish_reason=types.FinishReason.SAFETY,
            )
            return
        if kind == "bad-code":
            yield LlmResponse(error_code="BACKEND_OOPS", error_message=fakes.SECRET)
            return
        words = [_text(fakes.REASONING, thought=True), *map(_text, fakes.FIRST_TEXT)]
        if stream:
            for part in words[:2]:
                yield _response([part], partial=True)
        if kind == "boom":
            raise RuntimeError(f"fake model blew up ({fakes.SECRET})")
        if kind == "hang":
            await fakes.hang(tag)
        if kind == "max-tokens":
            if stream:
                yield _response([words[2]], partial=True)
            yield _response(
                [_text(fakes.REASONING, thought=True), _text("".join(fakes.FIRST_TEXT))],
                partial=False,
                finish_reason=types.FinishReason.MAX_TOKENS,
            )
            return
        name, args = {
            "tool-error": ("get_weather", {"city": "Atlantis"}),
            "approval": ("ask_approval", {"reason": "spend money"}),
        }.get(kind, ("get_weather", fakes.TOOL_ARGS))
        if stream:
            yield _response([words[2]], partial=True)
            yield _response([_call(name, args)], partial=True)
        yield _response(
            [
                _text(fakes.REASONING, thought=True),
                _text("".join(fakes.FIRST_TEXT)),
                _call(name, args),
            ],
            partial=False,
            finish_reason=types.FinishReason.STOP,
            usage_metadata=_USAGE,
        )

    async def _final(self, stream: bool) -> AsyncGenerator[LlmResponse, None]:
        if stream:
            for word in fakes.FINAL_TEXT:
                yield _response([_text(word)], partial=True)
        yield _response(
            [_text("".join(fakes.FINAL_TEXT))],
            partial=False,
            finish_reason=types.FinishReason.STOP,
            usage_metadata=_USAGE,
        )


root_agent = LlmAgent(
    name="weather",
    model=FakeLlm(),
    instruction="Answer weather questions with the get_weather tool.",
    tools=[get_weather, LongRunningFunctionTool(func=ask_approval)],
)
