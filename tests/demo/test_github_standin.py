"""The GitHub stand-in behaves like GitHub for what the receiver and repo-metrics ask of it."""

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from yarl import URL

from thoth_monitoring.demo.github_standin import Fault, GitHubStandIn

REPO = "thoth-station/adviser"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
AUTH = {"Authorization": "Bearer test-token"}
APP_ID = 4242


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


APP_KEY, OTHER_KEY = _key(), _key()


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def github(clock: Clock) -> GitHubStandIn:
    public = APP_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    standin = GitHubStandIn(clock=clock, app_id=APP_ID, app_public_key=public.decode())
    standin.add_repository(REPO, installation_id=7)
    return standin


@pytest.fixture
async def client(github: GitHubStandIn) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(github.app())) as client:
        yield client


async def _get(client: TestClient[Any, Any], path: str, **headers: str) -> tuple[int, Any]:
    async with client.get(path, headers=AUTH | headers) as response:
        return response.status, await response.json()


def _app_jwt(key: rsa.RSAPrivateKey = APP_KEY, iss: int | str = APP_ID, life: int = 540) -> str:
    """Signed as an app does; through PyJWS since PyJWT refuses to encode a numeric ``iss``,
    which GitHub accepts."""
    now = int(time.time())
    claims = json.dumps({"iat": now - 30, "exp": now + life, "iss": iss}).encode()
    return jwt.PyJWS().encode(claims, _pem(key), "RS256")


async def test_issues_and_pull_requests_share_one_numbering_with_github_fields(
    github: GitHubStandIn, client: TestClient[Any, Any]
) -> None:
    assert github.add_issue(REPO, "flaky test", "alice", T0) == 1
    assert github.add_pull_request(REPO, title="fix it", author="dependabot[bot]",
                                   at=T0 + timedelta(hours=1), author_type="Bot") == 2  # fmt: skip
    status, items = await _get(client, f"/repos/{REPO}/issues?direction=asc")
    assert status == 200
    issue, pull = items
    assert issue["user"]["login"] == "alice" and issue["user"]["type"] == "User"
    assert (issue["created_at"], issue["closed_at"], issue["comments"]) == (
        "2026-11-01T00:00:00Z", None, 0)  # fmt: skip
    assert "pull_request" not in issue and "merged_at" not in pull
    assert pull["pull_request"]["merged_at"] is None
    assert pull["user"] == {"login": "dependabot[bot]", "id": pull["user"]["id"], "type": "Bot"}
    _, [only_pull] = await _get(client, f"/repos/{REPO}/pulls")
    assert (only_pull["number"], only_pull["merged_by"], only_pull["draft"]) == (2, None, False)
    assert "pull_request" not in only_pull


async def test_issues_since_sort_updated_and_direction(
    github: GitHubStandIn, client: TestClient[Any, Any]
) -> None:
    for n in range(4):
        github.add_pull_request(REPO, title=f"pr {n}", at=T0 + timedelta(days=n))
    github.comment_on(REPO, 1, "bob", T0 + timedelta(days=10), "ping")  # bumps #1
    since = (T0 + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    url = f"/repos/{REPO}/issues?state=all&sort=updated&since={since}"
    _, desc = await _get(client, url)
    assert [i["number"] for i in desc] == [1, 4, 3]
    assert desc[0]["comments"] == 1 and desc[0]["updated_at"] == "2026-11-11T00:00:00Z"
    _, asc = await _get(client, url + "&direction=asc")
    assert [i["number"] for i in asc] == [3, 4, 1]
    _, created = await _get(client, f"/repos/{REPO}/issues?sort=created&direction=asc")
    assert [i["number"] for i in created] == [1, 2, 3, 4]  # what the receiver asks for


async def test_pulls_default_newest_first_and_updated_oldest_first(
    github: GitHubStandIn, client: TestClient[Any, Any]
) -> None:
    for n in range(3):
        github.add_pull_request(REPO, at=T0 + timedelta(days=n))
    github.add_issue(REPO, "not a pull", "alice", T0)
    github.merge(REPO, 1, T0 + timedelta(days=5), by="carol")
    _, default = await _get(client, f"/repos/{REPO}/pulls?state=all")
    assert [p["number"] for p in default] == [3, 2, 1]
    _, updated = await _get(client, f"/repos/{REPO}/pulls?state=all&sort=updated")
    assert [p["number"] for p in updated] == [2, 3, 1]
    assert updated[2]["merged_at"] == updated[2]["closed_at"] == "2026-11-06T00:00:00Z"
    assert updated[2]["merged_by"]["login"] == "carol"
    _, open_pulls = await _get(client, f"/repos/{REPO}/pulls")
    assert [p["number"] for p in open_pulls] == [3, 2]


async def test_close_and_reopen_bump_updated_at(
    github: GitHubStandIn, client: TestClient[Any, Any]
) -> None:
    github.add_issue(REPO, "bug", "alice", T0)
    github.close(REPO, 1, T0 + timedelta(days=1))
    _, [closed] = await _get(client, f"/repos/{REPO}/issues?state=closed")
    assert closed["closed_at"] == closed["updated_at"] == "2026-11-02T00:00:00Z"
    github.reopen(REPO, 1, T0 + timedelta(days=2))
    _, [reopened] = await _get(client, f"/repos/{REPO}/issues")
    assert (reopened["closed_at"], reopened["updated_at"]) == (None, "2026-11-03T00:00:00Z")


async def test_link_pagination_across_three_pages(
    github: GitHubStandIn, client: TestClient[Any, Any]
) -> None:
    for n in range(7):
        github.add_issue(REPO, f"issue {n}", "alice", T0 + timedelta(minutes=n))
    url, numbers, pages = f"/repos/{REPO}/issues?per_page=3&direction=asc", [], 0
    while url:
        async with client.get(url, headers=AUTH) as response:
            numbers += [i["number"] for i in await response.json()]
            links = response.links
        pages += 1
        if pages == 1:
            assert URL(str(links["last"]["url"])).query["page"] == "3"
        url = URL(str(links["next"]["url"])).path_qs if "next" in links else ""
    assert (pages, numbers) == (3, [1, 2, 3, 4, 5, 6, 7])


async def test_reviews_and_comments_oldest_first_with_users(
    github: GitHubStandIn, client: TestClient[Any, Any]
) -> None:
    github.add_pull_request(REPO, at=T0)
    github.review(REPO, 1, "bob", T0 + timedelta(hours=2), state="CHANGES_REQUESTED")
    github.review(REPO, 1, "ci[bot]", T0 + timedelta(hours=3), reviewer_type="Bot")
    _, reviews = await _get(client, f"/repos/{REPO}/pulls/1/reviews")
    assert [(r["user"]["login"], r["state"], r["submitted_at"]) for r in reviews] == [
        ("bob", "CHANGES_REQUESTED", "2026-11-01T02:00:00Z"),
        ("ci[bot]", "APPROVED", "2026-11-01T03:00:00Z"),
    ]
    async with client.post(f"/repos/{REPO}/issues/1/comments", json={"body": "hi"},
                           headers=AUTH) as response:  # fmt: skip
        assert response.status == 201
    _, [comment] = await _get(client, f"/repos/{REPO}/issues/1/comments")
    assert comment["user"]["login"] == "thoth-monitoring[bot]" and comment["body"] == "hi"
    assert comment["user"]["type"] == "Bot" and comment["created_at"] == comment["updated_at"]
    assert github.comments == {(REPO, 1): ["hi"]}
    github.add_issue(REPO, "an issue", "alice", T0)
    assert await _get(client, f"/repos/{REPO}/pulls/2/reviews") == (404, {"message": "Not Found"})
    with pytest.raises(ValueError, match="review state 'LGTM'"):
        github.review(REPO, 1, "bob", T0, state="LGTM")


async def test_not_modified_is_free_and_the_etag_changes_after_a_review(
    github: GitHubStandIn, client: TestClient[Any, Any]
) -> None:
    github.add_pull_request(REPO, at=T0)
    url = f"/repos/{REPO}/issues?state=all&sort=updated"
    async with client.get(url, headers=AUTH) as response:
        etag = response.headers["ETag"]
        assert response.headers["x-ratelimit-remaining"] == "4999"
    assert etag.startswith('W/"')
    async with client.get(url, headers=AUTH | {"If-None-Match": etag}) as response:
        assert (response.status, await response.read()) == (304, b"")
        assert response.headers["ETag"] == etag
        assert response.headers["x-ratelimit-remaining"] == "4999"
    assert (github.charged["test-token"], github.not_modified["test-token"]) == (1, 1)
    github.review(REPO, 1, "bob", T0 + timedelta(days=1))
    async with client.get(url, headers=AUTH | {"If-None-Match": etag}) as response:
        assert response.status == 200 and response.headers["ETag"] != etag
    assert github.statuses == {200: 2, 304: 1}
    assert github.charged["test-token"] == 2


async def test_rate_limit_per_token_answers_403_when_spent(
    github: GitHubStandIn, client: TestClient[Any, Any], clock: Clock
) -> None:
    github.rate_limit = 2
    for _ in range(2):
        assert (await _get(client, f"/repos/{REPO}/issues"))[0] == 200
    async with client.get(f"/repos/{REPO}/issues", headers=AUTH) as response:
        assert response.status == 403
        assert (await response.json())["message"].startswith("API rate limit exceeded for ")
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert response.headers["x-ratelimit-used"] == "2"
        assert response.headers["x-ratelimit-resource"] == "core"
        assert int(response.headers["x-ratelimit-reset"]) == pytest.approx(clock.now + 3600, 1)
    token = await _installation_token(client)
    assert (await _get(client, f"/repos/{REPO}/issues", Authorization=f"token {token}"))[0] == 200
    clock.now += 3600  # the hour is over: the budget refills
    assert (await _get(client, f"/repos/{REPO}/issues"))[0] == 200
    assert github.rate_limit_remaining == 1


async def test_fault_with_a_path_hits_only_that_path(
    github: GitHubStandIn, client: TestClient[Any, Any]
) -> None:
    github.add_pull_request(REPO, at=T0)
    github.faults.append(Fault.secondary_limit(retry_after=30, path="/reviews"))
    assert (await _get(client, f"/repos/{REPO}/pulls"))[0] == 200
    async with client.get(f"/repos/{REPO}/pulls/1/reviews", headers=AUTH) as response:
        assert response.status == 403 and response.headers["retry-after"] == "30"
        assert (await response.json())["message"] == "You have exceeded a secondary rate limit"
    assert (await _get(client, f"/repos/{REPO}/pulls/1/reviews"))[0] == 200
    assert github.faults == []


async def test_delete_user_shows_ghost_everywhere(
    github: GitHubStandIn, client: TestClient[Any, Any]
) -> None:
    github.add_pull_request(REPO, author="mallory", at=T0)
    github.review(REPO, 1, "mallory", T0)
    github.merge(REPO, 1, T0, by="mallory")
    github.delete_user("mallory")
    ghost = {"login": "ghost", "id": 10137, "type": "User"}
    _, [pull] = await _get(client, f"/repos/{REPO}/pulls?state=closed")
    _, [review] = await _get(client, f"/repos/{REPO}/pulls/1/reviews")
    assert pull["user"] == pull["merged_by"] == review["user"] == ghost


@pytest.mark.parametrize(("status", "message"),
                         [(404, "Not Found"), (451, "Repository access blocked")])  # fmt: skip
async def test_vanished_repository_answers_on_every_endpoint(
    github: GitHubStandIn, client: TestClient[Any, Any], status: int, message: str
) -> None:
    github.add_pull_request(REPO, at=T0)
    github.vanish(REPO, status)
    for path in ("issues", "pulls", "pulls/1/reviews", "issues/1/comments"):
        assert await _get(client, f"/repos/{REPO}/{path}") == (status, {"message": message})
    _, listed = await _get(client, "/orgs/thoth-station/repos")
    assert REPO not in [r["full_name"] for r in listed]


async def test_org_repositories_and_user_owners(
    github: GitHubStandIn, client: TestClient[Any, Any]
) -> None:
    github.add_repository("fridex/notes", org_repo=False)
    _, repos = await _get(client, "/orgs/thoth-station/repos")
    assert repos == [
        {"full_name": REPO, "name": "adviser", "owner": {"login": "thoth-station"},
         "archived": False, "private": False},
        {"full_name": "thoth-station/thoth-application", "name": "thoth-application",
         "owner": {"login": "thoth-station"}, "archived": False, "private": False},
    ]  # fmt: skip
    assert (await _get(client, "/orgs/fridex/repos"))[0] == 404


async def _installation_token(client: TestClient[Any, Any], installation: int = 7) -> str:
    bearer = {"Authorization": f"Bearer {_app_jwt()}"}
    path = f"/app/installations/{installation}/access_tokens"
    async with client.post(path, headers=bearer) as response:
        assert response.status == 201
        body = await response.json()
    assert body["repository_selection"] == "selected"
    return str(body["token"])


async def test_app_jwt_is_traded_for_an_installation_token_scoped_to_its_repositories(
    github: GitHubStandIn, client: TestClient[Any, Any], clock: Clock
) -> None:
    github.add_repository("thoth-station/other", installation_id=8)
    app = {"Authorization": f"Bearer {_app_jwt(iss=str(APP_ID))}"}
    assert await _get(client, f"/repos/{REPO}/installation", **app) == (
        200, {"id": 7, "account": {"login": "thoth-station"}})  # fmt: skip
    assert (await _get(client, "/orgs/thoth-station/installation", **app))[0] == 200
    assert (await _get(client, "/repos/thoth-station/thoth-application/installation", **app))[
        0
    ] == 404
    token = await _installation_token(client)
    installation = {"Authorization": f"token {token}"}
    assert (await _get(client, f"/repos/{REPO}/pulls", **installation))[0] == 200
    assert (await _get(client, "/repos/thoth-station/other/pulls", **installation))[0] == 404
    _, listed = await _get(client, "/orgs/thoth-station/repos", **installation)
    assert [r["full_name"] for r in listed] == [REPO]
    assert github.tokens_issued == 1 and github.charged[token] == 3
    clock.now += 3600
    assert await _get(client, f"/repos/{REPO}/pulls", **installation) == (
        401, {"message": "Bad credentials"})  # fmt: skip


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (_app_jwt(OTHER_KEY), "A JSON web token could not be decoded"),
        (_app_jwt(iss=1), "'Issuer' claim ('iss') must be the app's id 4242"),
        (_app_jwt(life=900), "'Expiration time' claim ('exp') is too far in the future"),
        ("not-a-jwt", "A JSON web token could not be decoded"),
    ],
)
async def test_bad_app_jwt_is_refused_with_401(
    github: GitHubStandIn, client: TestClient[Any, Any], token: str, message: str
) -> None:
    async with client.post("/app/installations/7/access_tokens",
                           headers={"Authorization": f"Bearer {token}"}) as response:  # fmt: skip
        assert (response.status, await response.json()) == (401, {"message": message})
    assert github.tokens_issued == 0


async def test_expired_app_jwt_and_unknown_installation(
    github: GitHubStandIn, client: TestClient[Any, Any], clock: Clock
) -> None:
    bearer = {"Authorization": f"Bearer {_app_jwt()}"}
    async with client.post("/app/installations/99/access_tokens", headers=bearer) as response:
        assert response.status == 404
    clock.now += 600
    async with client.post("/app/installations/7/access_tokens", headers=bearer) as response:
        assert response.status == 401
        assert (await response.json())["message"].startswith("'Expiration time' claim")


@pytest.mark.parametrize("query", ["state=merged", "sort=popularity", "per_page=0", "page=x",
                                   "since=yesterday", "direction=up"])  # fmt: skip
async def test_bad_query_parameters_get_422_naming_the_parameter(
    client: TestClient[Any, Any], query: str
) -> None:
    status, body = await _get(client, f"/repos/{REPO}/issues?{query}")
    assert status == 422 and f"parameter {query.partition('=')[0]}" in body["message"]


def test_test_data_refuses_naive_times_and_issues_where_a_pull_is_needed(
    github: GitHubStandIn,
) -> None:
    with pytest.raises(ValueError, match="no timezone"):
        github.add_issue(REPO, "bug", "alice", datetime(2026, 11, 1))
    github.add_issue(REPO, "bug", "alice", T0)
    with pytest.raises(ValueError, match="is an issue, not a pull request"):
        github.merge(REPO, 1, T0)


@pytest.mark.parametrize(("body", "status"), [(b"{not json", 400), (b"[]", 400), (b"{}", 422)])
async def test_malformed_writes_get_4xx_and_write_nothing(
    github: GitHubStandIn, client: TestClient[Any, Any], body: bytes, status: int
) -> None:
    async with client.post(f"/repos/{REPO}/issues", data=body, headers=AUTH) as response:
        assert response.status == status and "message" in await response.json()
    assert github.issues.get(REPO, []) == []


async def test_page_lists_the_issues_written_over_http_not_the_laid_out_ones(
    github: GitHubStandIn, client: TestClient[Any, Any]
) -> None:
    github.add_issue(REPO, "Kebechet did not update the lock file", "someone", T0)
    async with client.post(f"/repos/{REPO}/issues", json={"title": "ThothAlert firing"},
                           headers=AUTH) as response:  # fmt: skip
        assert response.status == 201
    async with client.get("/") as response:
        page = await response.text()
    assert "ThothAlert firing" in page
    assert "Kebechet did not update" not in page
