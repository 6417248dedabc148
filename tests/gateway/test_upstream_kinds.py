"""``upstream_kinds``: which wire each named upstream speaks, from flags, environment or file."""

from __future__ import annotations

import pytest

from surestream.errors import SettingsError
from surestream.gateway.service import build_upstreams
from surestream.gateway.settings import load_settings
from surestream.upstream import AnthropicUpstream, OpenAICompatibleUpstream

pytestmark = pytest.mark.anyio


async def test_each_upstream_gets_the_adapter_of_its_kind() -> None:
    settings = load_settings(
        env={
            "SURESTREAM_UPSTREAMS": "Claude=https://api.anthropic.com,local=http://h:1/v1",
            "SURESTREAM_UPSTREAM_KINDS": "claude=anthropic",
            "SURESTREAM_UPSTREAM_KEY_CLAUDE": "sk-ant-x",
            "SURESTREAM_MODELS": "sonnet=Claude:claude-sonnet-4-5,llama=local",
        }
    )
    assert settings.upstream_kinds == {"Claude": "anthropic"}
    upstreams = build_upstreams(settings)
    try:
        claude, local = upstreams["Claude"], upstreams["local"]
        assert isinstance(claude, AnthropicUpstream)
        assert claude.base_url == "https://api.anthropic.com/v1"
        assert claude.upstream_model("sonnet") == "claude-sonnet-4-5"
        assert type(local) is OpenAICompatibleUpstream
    finally:
        for upstream in upstreams.values():
            await upstream.aclose()


@pytest.mark.parametrize(
    ("kinds", "problem"),
    [
        ({"u": "gemini"}, "upstream 'u': kind 'gemini' is not one of openai, anthropic"),
        ({"v": "anthropic"}, "setting 'upstream_kinds': 'v' is not an upstream"),
    ],
)
def test_a_wrong_kind_stops_at_start_naming_it(kinds: dict[str, str], problem: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(flags={"upstreams": {"u": "http://h"}, "upstream_kinds": kinds}, env={})
    assert problem in str(info.value)
