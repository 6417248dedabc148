"""``adk_events`` over a real ADK ``Runner`` with a fake ``BaseLlm``: the exact typed events."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from google.adk.agents._streaming_mode import StreamingMode
from google.adk.agents.run_config import RunConfig
from google.adk.runners import InMemoryRunner
from google.genai import types

from surestream.errors import SourceFailed
from surestream.events import (
    Done,
    Event,
    Reasoning,
    Step,
    Text,
    ToolCall,
    ToolCallStart,
    ToolResult,
)
from surestream.integrations.adk import adk_events
from tests.integrations import fakes
from tests.integrations.adk_agents.weather.agent import root_agent

pytestmark = pytest.mark.anyio

USAGE = {"prompt_tokens": 22, "completion_tokens": 14, "total_tokens": 36}


async def run(text: str, *, streaming: bool = True, **options: Any) -> list[Event]:
    runner = InMemoryRunner(agent=root_agent, app_name="weather")
    session = await runner.session_service.create_session(app_name="weather", user_id="u")
    mode = StreamingMode.SSE if streaming else StreamingMode.NONE
    events = runner.run_async(
        user_id="u",
        session_id=session.id,
        new_message=types.Content(role="user", parts=[types.Part(text=text)]),
        run_config=RunConfig(streaming_mode=mode),
    )
    return [event async for event in adk_events(events, **options)]


async def test_streamed_answer_with_reasoning_a_tool_call_and_text() -> None:
    assert await run("weather in Paris?") == [
        Step("weather"),
        Reasoning(fakes.REASONING),
        Text("Let me "),
        Text("check."),
        ToolCallStart("call_1", "get_weather"),
        ToolCall("call_1", "get_weather", fakes.TOOL_ARGS),
        ToolResult("call_1", fakes.TOOL_OUTPUT),
        Step("weather"),
        Text("It is "),
        Text("sunny, "),
        Text("21 degrees."),
        Done("stop", USAGE),
    ]


async def test_the_final_event_does_not_repeat_what_the_partials_sent() -> None:
    events = await run("weather in Paris?")
    text = "".join(e.text for e in events if isinstance(e, Text))
    assert text == "".join(fakes.FIRST_TEXT + fakes.FINAL_TEXT)
    assert [e for e in events if isinstance(e, Reasoning)] == [Reasoning(fakes.REASONING)]
    assert len([e for e in events if isinstance(e, ToolCall)]) == 1


async def test_without_streaming_each_part_comes_whole_and_once() -> None:
    assert await run("weather in Paris?", streaming=False) == [
        Step("weather"),
        Reasoning(fakes.REASONING),
        Text("Let me check."),
        ToolCall("call_1", "get_weather", fakes.TOOL_ARGS),
        ToolResult("call_1", fakes.TOOL_OUTPUT),
        Step("weather"),
        Text("It is sunny, 21 degrees."),
        Done("stop", USAGE),
    ]


async def test_a_tool_failure_reported_as_data_is_a_tool_result_with_an_error() -> None:
    events = await run("tool-error please")
    assert ToolResult("call_1", error=fakes.TOOL_ERROR) in events
    assert events[-1] == Done("stop", USAGE)


async def test_a_model_that_raises_fails_with_a_safe_message_and_logs_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, "surestream.integrations")
    with pytest.raises(SourceFailed) as failed:
        await run("boom")
    assert (failed.value.code, failed.value.message) == ("upstream_error", "the agent failed")
    assert fakes.SECRET in caplog.text


async def test_expose_errors_puts_the_exception_in_the_message() -> None:
    with pytest.raises(SourceFailed) as failed:
        await run("boom", expose_errors=True)
    assert failed.value.message.startswith("the agent failed: ")
    assert fakes.SECRET in failed.value.message


async def test_an_error_code_from_a_content_filter_ends_with_content_filter() -> None:
    assert await run("safety") == [Done("content_filter")]


async def test_any_other_error_code_ends_with_an_upstream_error() -> None:
    with pytest.raises(SourceFailed) as failed:
        await run("bad-code")
    assert (failed.value.code, failed.value.message) == ("upstream_error", "the agent failed")


async def test_max_tokens_ends_with_length() -> None:
    events = await run("max-tokens")
    assert events[-1] == Done("length")
    assert "".join(e.text for e in events if isinstance(e, Text)) == "".join(fakes.FIRST_TEXT)


async def test_a_run_paused_on_a_long_running_tool_ends_with_tool_calls() -> None:
    events = await run("approval")
    assert events[-2:] == [
        ToolCall("call_1", "ask_approval", {"reason": "spend money"}),
        Done("tool_calls", {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}),
    ]
    assert not any(isinstance(e, ToolResult) for e in events)
