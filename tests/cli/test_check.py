"""``surestream check`` as users run it: the command, its exit codes, its JSON and its report."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from surestream.cli.check import main
from tests.check.gallery import SUPERSCRIPT_IDS
from tests.support.servers import free_port


def run_check(*args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "surestream.cli", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, proc.stdout


def test_json_and_exit_1_for_the_name_mismatch(gallery: str) -> None:
    code, out = run_check(f"{gallery}/mismatch", "--expect-event", "complete", "--json")
    doc = json.loads(out)
    assert code == 1 == doc["exit_code"]
    assert "expected_event_missing" in [f["code"] for f in doc["findings"]]


def test_exit_2_for_text_plain(gallery: str) -> None:
    code, out = run_check(f"{gallery}/text-plain", "--json")
    assert code == 2
    assert "content_type_not_sse" in [f["code"] for f in json.loads(out)["findings"]]


def test_exit_2_when_nothing_listens() -> None:
    code, out = run_check(f"http://127.0.0.1:{free_port()}/stream", "--json", "--timeout", "5")
    assert code == 2
    assert [f["code"] for f in json.loads(out)["findings"]] == ["connect_failed"]


def test_exit_0_for_a_healthy_stream_with_resume(gallery: str) -> None:
    code, out = run_check(f"{gallery}/healthy", "--resume", "--json")
    assert code == 0
    assert json.loads(out)["resume"]["tested"] is True


def test_the_rich_report(gallery: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([f"{gallery}/mismatch", "--expect-event", "complete", "-H", "X-Trace: 1"])
    out = capsys.readouterr().out
    assert code == 1
    for text in ("surestream check", "verdict: PROBLEM", "Expectations", "fix:", "isFinal"):
        assert text in out


def test_post_with_a_json_body(gallery: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([f"{gallery}/ours/native", "-d", '{"messages": []}', "-X", "GET", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["method"] == "GET"


def test_a_malformed_header_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["http://127.0.0.1:1/", "-H", "no colon"])
    assert exc.value.code == 2


def test_resume_with_ids_that_are_digits_only_to_isdigit(gallery: str) -> None:
    code, out = run_check(f"{gallery}/unicode-ids", "--resume", "--json")
    doc = json.loads(out)
    assert code == 1 == doc["exit_code"], "a finding, not a crash"
    assert doc["resume"]["tested"] is True
    assert doc["resume"]["last_event_id"] in SUPERSCRIPT_IDS, "sent UTF-8 encoded, as browsers do"
    assert "resume_repeated_events" in [f["code"] for f in doc["findings"]]


def test_the_rich_report_of_an_event_whose_data_is_an_empty_object(
    gallery: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([f"{gallery}/end-event"])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"^\s*end\s+1\s+never\s+\{\} x1", out, re.MULTILINE), out
