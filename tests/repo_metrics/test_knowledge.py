"""The knowledge store: what is saved reads back the same; an unreadable document is reported
with its key, kept aside, and its repository collected again from scratch."""

import json
import logging
from pathlib import Path

import pytest

from thoth_monitoring.repo_metrics.knowledge import (
    Issue,
    Knowledge,
    KnowledgeStore,
    LocalBackend,
    PullRequest,
    State,
)

REPO = "thoth-station/example"


def knowledge() -> Knowledge:
    pull = PullRequest(3, "Release of version 1.0.0", "khebhut[bot]", True, ["bot"], "open",
                       "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z")  # fmt: skip
    issue = Issue(4, "bug", "someone", False, "open", "2026-11-20T00:00:00Z",
                  "2026-11-20T00:00:00Z")  # fmt: skip
    state = State(issues_mark="2026-11-21T00:00:00Z", issues_etag='W/"abc"',
                  first_seen="2026-11-22T00:00:00Z")  # fmt: skip
    return Knowledge(REPO, {3: pull}, {4: issue}, state)


def test_saved_knowledge_reads_back_the_same_from_a_relative_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = KnowledgeStore(LocalBackend(Path("store")))
    store.save(knowledge())
    assert store.load(REPO) == knowledge()
    assert store.repositories() == [REPO]
    document = json.loads((tmp_path / f"store/repo-metrics/{REPO}/pull_requests.json").read_text())
    assert (document["format"], document["repository"]) == (1, REPO)
    assert not list((tmp_path / "store").rglob(".*"))  # no temporary file left behind


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("pull_requests", b'{"format": 1, "repository": "thoth-station/exam'),  # cut short
        ("issues", b"\x00\x01binary"),
        ("state", b'{"format": 99, "repository": "thoth-station/example", "state": {}}'),
        ("pull_requests", b'{"format": 1, "repository": "someone/else", "pull_requests": {}}'),
        ("pull_requests", b'{"format": 1, "repository": "thoth-station/example", '
                          b'"pull_requests": {"3": {"number": 3, "colour": "red"}}}'),
    ],
)  # fmt: skip
def test_a_corrupt_document_is_reported_kept_aside_and_collected_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, content: bytes
) -> None:
    store = KnowledgeStore(LocalBackend(tmp_path))
    store.save(knowledge())
    path = tmp_path / f"repo-metrics/{REPO}/{name}.json"
    path.write_bytes(content)
    with caplog.at_level(logging.ERROR):
        loaded = store.load(REPO)
    key = f"repo-metrics/{REPO}/{name}.json"
    assert store.corrupt == [key]
    assert any(getattr(r, "key", None) == key for r in caplog.records)
    assert (tmp_path / f"{key}.corrupt").read_bytes() == content  # kept, not dropped
    assert not path.exists()
    # the listings start over (no marks, no ETags) so GitHub fills in what was lost …
    assert (loaded.state.issues_mark, loaded.state.issues_etag) == ("", None)
    assert (loaded.state.pulls_mark, loaded.state.pulls_etag) == ("", None)
    # … while what could be read is kept (reviews already fetched are not asked for again)
    if name != "pull_requests":
        assert loaded.pull_requests == knowledge().pull_requests
    assert loaded.state.first_seen == ("" if name == "state" else "2026-11-22T00:00:00Z")
