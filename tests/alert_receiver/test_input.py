"""Bad input at the receiver's edges: webhook bodies and headers get a 4xx with a message (never
a 500, which Alertmanager would retry forever), ``repo`` labels never reach a URL unchecked,
``render`` reports bad files without a traceback, and no start without credentials in public."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.support.alerts import REPO, TOKEN, Stack, payload
from tests.support.cli import run
from tests.support.markdown import live_markdown
from thoth_monitoring.alert_receiver.payload import (
    MAX_DEPTH,
    PayloadError,
    parse_notification,
    repository,
)
from thoth_monitoring.alert_receiver.receiver import ReceiverSettings
from thoth_monitoring.alert_receiver.render import KEY_PATTERN, MAX_BODY, NO_ALERTNAME, TRUNCATED
from thoth_monitoring.cli import main

GOOD = json.dumps(payload()).encode()


async def _filed(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    """Deliver a new firing group; the one issue it became in the default repository."""
    await stack.deliver(body)
    (issue,) = stack.github.open_issues(REPO)
    return issue


def _nested(depth: int) -> bytes:
    body = payload()
    body["extra"] = json.loads("[" * depth + "]" * depth)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (GOOD.replace(b"critical", b"crit\xffcal"), "body is not UTF-8: byte 0xff at offset"),
        (b"[" * 100_000, f"invalid JSON: nested deeper than {MAX_DEPTH} levels"),
        (_nested(MAX_DEPTH + 1), f"invalid payload: extra.{'.'.join(['0'] * (MAX_DEPTH - 1))}: "
                                 f"nested deeper than {MAX_DEPTH} levels"),
        (GOOD.replace(b'"4"', b"1" + b"0" * 5_000), "invalid JSON: a number has more than 4300"),
        (GOOD.replace(b"critical", b"\\ud800"), "invalid payload: commonLabels.severity: not "
                                                "valid Unicode (a lone surrogate)"),
        (GOOD.replace(b'"severity"', b'"\\udc00"'), "invalid payload: commonLabels: a key is not "
                                                    "valid Unicode"),
        (b"", "invalid JSON: Expecting value: line 1 column 1 (char 0)"),
        (b"[]", "invalid payload"),
    ],
)  # fmt: skip
async def test_undecodable_bodies_are_refused_with_400_and_a_message(
    stack: Stack, raw: bytes, message: str
) -> None:
    response = await stack.client.post(
        "/alerts", data=raw, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status == 400
    assert (await response.json())["error"].startswith(message)
    assert stack.github.open_issues() == []


@pytest.mark.parametrize("auth", ["Bearer wébhook-secret", "Bearer \u202ewebhook", "Basic é"])
async def test_non_ascii_credentials_are_refused_with_401(stack: Stack, auth: str) -> None:
    async with ClientSession() as session:  # sends the header as UTF-8, as a client might
        response = await session.post(
            stack.client.make_url("/alerts"), data=GOOD, headers={"Authorization": auth}
        )
        assert response.status == 401
        assert (await response.json()) == {"error": "missing or invalid credentials"}


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
async def test_a_body_not_in_its_content_encoding_is_refused_with_400(
    stack: Stack, encoding: str
) -> None:
    response = await stack.client.post(
        "/alerts", data=GOOD,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Encoding": encoding},
    )  # fmt: skip
    assert response.status in (400, 415), await response.text()
    assert stack.github.open_issues() == []


async def test_alert_without_alertname_becomes_an_issue_with_a_placeholder(stack: Stack) -> None:
    nameless = payload(group="nameless")
    nameless["commonLabels"].pop("alertname")  # the same dict as each alert's labels
    nameless["groupLabels"] = {}
    issue = await _filed(stack, nameless)
    assert issue["title"].startswith(f"[CRITICAL] {NO_ALERTNAME}: ")


HOSTILE_REPO_LABELS = [
    "../../user", "../../orgs/x", "/user", "thoth-station/other?injected=1&",
    "thoth-station/other#x", "thoth-station/a/b", "-leading/x", "trailing-/x", "dou--ble/x",
    "o" * 40 + "/x", "x/" + "n" * 101, "x/..", "..", "x/", "/x", "x y", "thoth-station/other%2F..",
    "thoth-station/other\n@someone", "`\n@someone ![i](https://evil/i.png)", "x" * 7_000,
    "évil/x",
]  # fmt: skip


@pytest.mark.parametrize("label", HOSTILE_REPO_LABELS, ids=lambda label: repr(label[:30]))
async def test_invalid_repo_labels_go_to_the_default_repository_and_never_into_a_url(
    stack: Stack, label: str
) -> None:
    hostile = payload(group="hostile", repo=label)
    hostile["alerts"][0]["annotations"]["description"] = "y" * 70_000
    body = (await _filed(stack, hostile))["body"]
    assert dict(stack.github.requests) == {  # the warm-up listing and the create: nothing else
        "GET /repos/{owner}/{repo}/issues": 1,
        "POST /repos/{owner}/{repo}/issues": 1,
    }
    assert body.startswith("Routed to the default repository: the alert's repo label “")
    assert "is not a GitHub repository (owner/name)." in body
    assert len(body) <= MAX_BODY and body.count(TRUNCATED) == 1
    assert KEY_PATTERN.search(body[-60:])
    assert live_markdown(body, headings=1) == []


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("storages", "thoth-station/storages"),
        ("thoth-station/thoth-application", REPO),
        ("a-b-c/repo.name_x-1", "a-b-c/repo.name_x-1"),
        ("o" * 39 + "/" + "n" * 100, "o" * 39 + "/" + "n" * 100),
        ("x/.github", "x/.github"),
    ],
)
def test_valid_repo_labels_name_a_repository(label: str, expected: str) -> None:
    assert repository(label, default_owner="thoth-station") == expected


@pytest.mark.parametrize("label", [*HOSTILE_REPO_LABELS, "x\n", "x/y\n"])
def test_invalid_repo_labels_name_none(label: str) -> None:
    assert repository(label, default_owner="thoth-station") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe{}", "body is not UTF-8: byte 0xff at offset 0"),
        (b"[" * 100_000, "invalid JSON: nested deeper than"),
        (b'{"version": ' + b"9" * 5_000 + b"}", "invalid JSON: a number has more than"),
        (b'{"version": "4"}', "groupKey: Field required"),
        (None, "cannot read: No such file or directory"),
    ],
)
def test_render_command_reports_a_bad_payload_file_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    path = tmp_path / "payload.json"
    if content is not None:
        path.write_bytes(content)
    assert main(["alert-receiver", "render", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"{path}: {message}")


def test_render_command_renders_an_alert_without_alertname(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nameless = payload()
    nameless["commonLabels"].pop("alertname")
    nameless["groupLabels"] = {}
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(nameless))
    assert main(["alert-receiver", "render", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"title: [CRITICAL] {NO_ALERTNAME}: ")


def test_parse_errors_list_every_validation_problem() -> None:
    broken: dict[str, Any] = payload() | {"version": "3", "alerts": []}
    with pytest.raises(PayloadError) as caught:
        parse_notification(json.dumps(broken).encode())
    assert caught.value.status == 400
    assert caught.value.answer()["error"] == "invalid payload"
    assert [p.split(":")[0] for p in caught.value.answer()["problems"]] == ["version", "alerts"]


def test_serving_without_credentials_off_loopback_needs_allow_unauthenticated(
    tmp_path: Path,
) -> None:
    config = tmp_path / "receiver.yaml"
    config.write_text(f"default_repo: {REPO}\nauth_disabled: true\ndry_run: true\n")
    # a documentation address (192.0.2.0/24): never bound, even by a receiver that would start
    started = run("alert-receiver", "--config", str(config), "--listen", "192.0.2.1:9703")
    assert (started.returncode, started.stderr) == (2, (
        f"{config}: listen 192.0.2.1:9703 is not a loopback address: refusing to accept webhooks "
        "without credentials there; set credentials, listen on 127.0.0.1, or give "
        "--allow-unauthenticated (allow_unauthenticated: true)\n"
    ))  # fmt: skip
    check = ["alert-receiver", "--config", str(config), "--check-config"]
    refused = run(*check)  # the default listen address, 0.0.0.0
    assert refused.returncode == 2
    assert "listen 0.0.0.0:9703 is not a loopback address" in refused.stderr
    for flags in (["--listen", "127.0.0.1:9703"], ["--listen", "[::1]:9703"],
                  ["--allow-unauthenticated"]):  # fmt: skip
        result = run(*check, *flags)
        assert result.returncode == 0, result.stderr
    help_text = " ".join(run("alert-receiver", "--help").stdout.split())  # as a user sees it
    assert "only with --allow-unauthenticated" in help_text
    assert "refuses to start on a" in help_text


@pytest.mark.parametrize(
    ("listen", "loopback"),
    [("127.0.0.1:9703", True), ("127.1.2.3:1", True), ("[::1]:9703", True),
     ("localhost:9703", True), ("0.0.0.0:9703", False), (":9703", False), ("[::]:9703", False),
     ("10.0.0.1:9703", False), ("alert-receiver:9703", False)],
)  # fmt: skip
def test_only_loopback_addresses_serve_without_credentials(listen: str, loopback: bool) -> None:
    settings = {"default_repo": REPO, "listen": listen, "auth_disabled": True}
    if loopback:
        assert not ReceiverSettings.model_validate(settings).authenticated()
    else:
        with pytest.raises(ValueError, match="is not a loopback address"):
            ReceiverSettings.model_validate(settings)
    allowed = ReceiverSettings.model_validate(settings | {"allow_unauthenticated": True})
    assert not allowed.authenticated()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"key_template": "{{ commonLabels.alertname"},
         "key_template: line 1: unexpected end of template"),
        ({"template_dir": "missing"}, "template_dir: 'body.md.j2' not found in search path"),
        ({"template_dir": "broken"}, "template_dir: title.txt.j2: line 1: unexpected end"),
    ],
)  # fmt: skip
def test_broken_templates_are_configuration_errors(
    tmp_path: Path, option: dict[str, str], message: str
) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "title.txt.j2").write_text("{{ alertname ")
    (tmp_path / "broken" / "body.md.j2").write_text("body")
    if "template_dir" in option:
        option = {"template_dir": str(tmp_path / option["template_dir"])}
    settings = {"default_repo": REPO, "bearer_token": TOKEN} | option
    with pytest.raises(ValueError, match=re.escape(message)):
        ReceiverSettings.model_validate(settings)
