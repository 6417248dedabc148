"""``FakeChatModel``: a LangChain chat model without network, with reasoning and tool calls.

It plays the scenario of the first user message (``tests.integrations.fakes``), streaming
the way real chat models do: reasoning and text chunks, a tool call in fragments (only the
first carries the call's id and name), and a last chunk with the finish reason and usage.
``agent()`` is a ``create_agent`` graph of it with the ``get_weather`` tool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.tools import ToolException, tool
from langgraph.graph.state import CompiledStateGraph

from tests.integrations import fakes

USAGE = {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}


@tool
def get_weather(city: str) -> dict[str, Any]:
    """The weather in ``city``."""
    if city == "Atlantis":
        raise ToolException(fakes.TOOL_ERROR)
    if city == "Nowhere":
        raise RuntimeError(f"tool crashed ({fakes.SECRET})")
    return dict(fakes.TOOL_OUTPUT)


get_weather.handle_tool_error = True  # a ToolException is the tool's answer (status "error")


def _last(reason: str) -> AIMessageChunk:
    return AIMessageChunk(
        content="",
        response_metadata={"finish_reason": reason},
        usage_metadata=USAGE,  # type: ignore[arg-type]
        chunk_position="last",
    )


def _chunks(kind: str) -> list[AIMessageChunk]:
    city = {"tool-error": "Atlantis", "tool-raises": "Nowhere"}.get(kind, "Paris")
    args = f'{{"city": "{city}"}}'
    first = [
        AIMessageChunk(content=[{"type": "reasoning", "reasoning": fakes.REASONING, "index": 0}]),
        *(AIMessageChunk(content=word) for word in fakes.FIRST_TEXT),
    ]
    if kind == "max-tokens":
        return [*first, _last("length")]
    return [
        *first,
        AIMessageChunk(
            content="",
            tool_call_chunks=[
                {"name": "get_weather", "args": args[:6], "id": "call_1", "index": 0}
            ],
        ),
        AIMessageChunk(
            content="", tool_call_chunks=[{"name": None, "args": args[6:], "id": None, "index": 0}]
        ),
        _last("tool_calls"),
    ]


def _final() -> list[AIMessageChunk]:
    return [*(AIMessageChunk(content=word) for word in fakes.FINAL_TEXT), _last("stop")]


class FakeChatModel(BaseChatModel):
    """Streams the scenario's answer; ``bind_tools`` keeps the model as it is."""

    @property
    def _llm_type(self) -> str:
        return "fake-chat"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> FakeChatModel:  # type: ignore[override]
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError("the fake only streams (async)")

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        question = next(m for m in messages if isinstance(m, HumanMessage))
        kind, tag = fakes.scenario(str(question.content))
        chunks = _final() if isinstance(messages[-1], ToolMessage) else _chunks(kind)
        async with fakes.model_call(tag):
            for i, chunk in enumerate(chunks):
                if i == 2 and kind == "boom":
                    raise RuntimeError(f"fake model blew up ({fakes.SECRET})")
                if i == 2 and kind == "hang":
                    await fakes.hang(tag)
                yield ChatGenerationChunk(message=chunk)


def agent() -> CompiledStateGraph[Any, Any, Any, Any]:
    """A ``create_agent`` graph: the fake model and the ``get_weather`` tool."""
    return create_agent(FakeChatModel(), tools=[get_weather])
