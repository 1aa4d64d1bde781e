"""``thoth-monitoring repo-metrics`` as users run it: from another folder with a relative store,
with a GitHub App, and with bad configuration."""

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client.parser import text_string_to_metric_families

from tests.repo_metrics.conftest import KEBECHET, UPDATE, at
from tests.support.cli import run
from thoth_monitoring.demo.github_standin import GitHubStandIn
from thoth_monitoring.repo_metrics.service import RepoMetrics, RepoMetricsSettings

REPO = "thoth-station/alpha"


def populated(**fields: object) -> GitHubStandIn:
    github = GitHubStandIn(repos=set(), **fields)  # type: ignore[arg-type]
    github.add_repository(REPO, installation_id=11)
    github.add_repository("aicoe/beta", installation_id=12)
    for repo in (REPO, "aicoe/beta"):
        github.add_pull_request(repo, title=UPDATE, author=KEBECHET, author_type="Bot", at=at(0))
        github.review(repo, 1, "bob", at(2))
        github.merge(repo, 1, at(5))
        github.add_pull_request(repo, title="Release of version 1.0.0", author=KEBECHET,
                                author_type="Bot", at=at(1))  # fmt: skip
    return github


async def test_once_from_another_folder_prints_metrics_promtool_accepts(
    tmp_path: Path,
) -> None:
    github = populated()
    (tmp_path / "elsewhere").mkdir()
    async with TestServer(github.app()) as server:
        process = await _once(tmp_path / "elsewhere", str(server.make_url("")), github.token)
    assert process.returncode == 0, process.stderr
    assert (tmp_path / "elsewhere/store/repo-metrics/thoth-station/alpha/state.json").is_file()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(process.stdout)
        for s in family.samples
    }
    merged = ("thoth_kebechet_pull_requests",
              (("kind", "dependencies"), ("manager", "update"), ("state", "merged")))  # fmt: skip
    assert samples[merged] == 2
    opened = ("thoth_kebechet_pull_requests",
              (("kind", "release"), ("manager", "version"), ("state", "open")))  # fmt: skip
    assert samples[opened] == 2
    count = ("thoth_kebechet_pull_request_merge_duration_seconds_count", (("manager", "update"),))
    total = ("thoth_kebechet_pull_request_merge_duration_seconds_sum", (("manager", "update"),))
    assert (samples[count], samples[total]) == (2, 2 * 5 * 3600)
    within_6h = ("thoth_kebechet_pull_request_merge_duration_seconds_bucket",
                 (("le", "21600.0"), ("manager", "update")))  # fmt: skip
    assert samples[within_6h] == 2
    assert samples[("thoth_repo_metrics_repository_collections_total",
                    (("outcome", "changed"),))] == 2  # fmt: skip
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed")
    lint = await asyncio.to_thread(
        subprocess.run, [promtool, "check", "metrics"], input=process.stdout,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr


async def _once(folder: Path, url: str, token: str) -> "subprocess.CompletedProcess[str]":
    """The command in a child process while this loop keeps serving the stand-in."""
    command = [sys.executable, "-m", "thoth_monitoring", "repo-metrics", "--once",
               "--github-url", url, "--store", "store",
               "--repository", REPO, "--repository", "aicoe/beta"]  # fmt: skip
    return await asyncio.to_thread(
        subprocess.run, command, cwd=folder,
        env=os.environ | {"GITHUB_TOKEN": token}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_files(folder: Path, key: rsa.RSAPrivateKey) -> tuple[Path, str]:
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path = folder / "app.pem"
    path.write_bytes(private)
    return path, public.decode()


async def test_a_github_app_gets_one_token_per_installation(
    tmp_path: Path, app_key: rsa.RSAPrivateKey
) -> None:
    key_file, public = _pem_files(tmp_path, app_key)
    github = populated(app_id=77, app_public_key=public)
    async with TestServer(github.app()) as server:
        settings = RepoMetricsSettings(
            github_url=str(server.make_url("")), github_app_id="77",
            github_app_private_key_file=key_file, repositories=[REPO, "aicoe/beta"],
            store=tmp_path / "store",
        )  # fmt: skip
        metrics = RepoMetrics(settings, settings.knowledge_store())
        assert await metrics.run()
    assert github.tokens_issued == 2
    assert github.requests["GET /repos/{owner}/{repo}/installation"] == 2
    installation_tokens = [key for key in github.charged if key.startswith("ghs_")]
    assert len(installation_tokens) == 2  # each installation spends its own rate limit
    assert metrics.knowledge[REPO].pull_requests[1].first_review_at == "2026-11-02T02:00:00Z"


async def test_a_github_app_with_the_wrong_key_fails_the_run_saying_why(
    tmp_path: Path, app_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    _, public = _pem_files(tmp_path, app_key)
    other, _ = _pem_files(tmp_path, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    github = populated(app_id=77, app_public_key=public)
    async with TestServer(github.app()) as server:
        settings = RepoMetricsSettings(
            github_url=str(server.make_url("")), github_app_id="77",
            github_app_private_key_file=other, repositories=[REPO], store=tmp_path / "store",
            max_retries=0,
        )  # fmt: skip
        metrics = RepoMetrics(settings, settings.knowledge_store())
        assert not await metrics.run()
    assert metrics.health.outcomes["failed"] == 1
    assert any("HTTP 401" in str(getattr(r, "error", "")) for r in caplog.records)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    yield tmp_path


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("repositories: [thoth-station/a]\nrepositories: [b/c]\n",
         "config.yaml: line 2, column 1: invalid YAML: duplicate key 'repositories'"),
        ("repositories: [thoth-station/a, ../../etc]\n",
         "config.yaml: repositories: not owner/name repository names: '../../etc'"),
        ("repositories: [a/b]\nconcurrency: 0\n",
         "config.yaml: concurrency: Input should be greater than or equal to 1"),
        ("repositories: [a/b]\ncolour: red\n",
         "config.yaml: colour: Extra inputs are not permitted"),
        ("store: here\n", "config.yaml: nothing to collect: give database_url"),
        ("repositories: [a/b]\ngithub_app_id: '3'\n",
         "config.yaml: a GitHub App needs both github_app_id and github_app_private_key_file"),
        ("repositories: [a/b]\ngithub_app_id: '3'\ngithub_app_private_key_file: key.pem\n",
         "repo-metrics: github_app_private_key_file: key.pem: not a PEM private key"),
        ("repositories: [a/b]\ns3: {bucket: b}\n", "config.yaml: s3.endpoint_url: Field required"),
    ],
)  # fmt: skip
def test_bad_configuration_is_located(in_tmp: Path, config: str, expected: str) -> None:
    (in_tmp / "config.yaml").write_text(config)
    (in_tmp / "key.pem").write_text("-----BEGIN NOTHING-----\n")
    result = run("repo-metrics", "--config", "config.yaml", "--check-config")
    assert result.returncode == 2
    assert expected in result.stderr


def test_check_config_says_what_it_will_do(in_tmp: Path) -> None:
    result = run("repo-metrics", "--repository", "a/b", "--store", "s", "--check-config")
    assert result.returncode == 0
    assert result.stdout == (
        f"configuration is valid: token authentication, knowledge in {in_tmp / 's'}\n"
    )


def test_without_a_token_it_says_where_to_give_one(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    result = run("repo-metrics", "--repository", "a/b", "--once")
    assert result.returncode == 2
    assert "github_token: not set: give GITHUB_TOKEN" in result.stderr
