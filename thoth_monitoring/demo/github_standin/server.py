"""The stand-in's HTTP side: routes, authentication (a static token, GitHub App JWTs,
installation tokens), rate limits per token, conditional requests and injected faults."""

import asyncio
import hashlib
import html
import math
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from thoth_monitoring.demo.github_standin.app_auth import BadJWT, verify_app_jwt
from thoth_monitoring.demo.github_standin.records import (
    Record,
    Records,
    issue_view,
    pull_view,
    stamp,
)

PAGE_SIZE_LIMIT = 100
RATE_WINDOW = 3600  # seconds until a token's budget refills, as on GitHub
RECEIVER_CLOSED_AT = "2026-11-25T00:00:00Z"  # closes over HTTP; the receiver tests count from it
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    writes_only: bool = True
    message: str = "injected"
    applied: bool = False  # carry the request out first, then answer with the fault
    delay: float = 0.0  # seconds before answering (longer than the client's timeout: a hang)
    html: bool = False  # an HTML error page, as a proxy in front of GitHub sends
    path: str | None = None  # only requests whose path contains this; None: any

    @classmethod
    def secondary_limit(cls, retry_after: int = 60, path: str | None = None) -> "Fault":
        """GitHub's secondary rate limit, on any request (``path`` narrows it)."""
        return cls(403, {"retry-after": str(retry_after)}, writes_only=False, path=path,
                   message="You have exceeded a secondary rate limit")  # fmt: skip


class Refused(Exception):
    """An answer other than success, raised from deep in a handler."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Caller:
    key: str  # the credential its requests are charged to
    installation_id: int | None  # None: the static token, which reaches every repository
    label: str  # who GitHub names in a rate-limit answer


CALLER = web.RequestKey("caller", Caller)


@dataclass
class Budget:
    used: int = 0
    reset: float = 0.0


@dataclass
class GitHubStandIn(Records):
    token: str = "test-token"
    rate_limit: int = 5000  # requests per token and hour
    app_id: int | None = None
    app_public_key: str | None = None  # PEM
    token_lifetime: float = 3600.0  # seconds an installation token is valid
    faults: list[Fault] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    charged: Counter[str] = field(default_factory=Counter)  # per token: counted to its limit
    not_modified: Counter[str] = field(default_factory=Counter)  # per token: 304 answers
    statuses: Counter[int] = field(default_factory=Counter)
    write_times: list[float] = field(default_factory=list)
    tokens_issued: int = 0
    limited_until: float = 0.0  # monotonic end of the last retry-after window
    writes_while_limited: int = 0
    _tokens: dict[str, tuple[int, float]] = field(default_factory=dict, init=False, repr=False)
    _budgets: dict[str, Budget] = field(default_factory=dict, init=False, repr=False)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        repo, issues = "/repos/{owner}/{repo}", "/repos/{owner}/{repo}/issues"
        app.router.add_get(issues, self.list_issues)
        app.router.add_post(issues, self.create_issue)
        app.router.add_get(issues + "/{number}", self.get_issue)
        app.router.add_patch(issues + "/{number}", self.update_issue)
        app.router.add_post(issues + "/{number}/comments", self.create_comment)
        app.router.add_get(issues + "/{number}/comments", self.list_comments)
        app.router.add_get(repo + "/pulls", self.list_pulls)
        app.router.add_get(repo + "/pulls/{number}/reviews", self.list_reviews)
        app.router.add_get("/orgs/{org}/repos", self.org_repos)
        app.router.add_post("/app/installations/{id}/access_tokens", self.create_token)
        app.router.add_get(repo + "/installation", self.repo_installation)
        app.router.add_get("/orgs/{org}/installation", self.org_installation)
        app.router.add_get("/", self.page)
        app.router.add_get("/issues.json", self.issues_json)
        return app

    @property
    def rate_limit_remaining(self) -> int:
        """What is left of the static token's budget."""
        return self.rate_limit - self._budget(self.token).used

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in ("/", "/issues.json"):
            return await handler(request)
        resource = request.match_info.route.resource
        self.requests[f"{request.method} {resource.canonical if resource else request.path}"] += 1
        try:
            response = await self._serve(request, handler)
        except Refused as refusal:
            response = web.json_response({"message": refusal.message}, status=refusal.status)
        self.statuses[response.status] += 1
        return response

    async def _serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        caller = self._authenticate(request)
        request[CALLER] = caller
        budget = self._budget(caller.key)
        if budget.used >= self.rate_limit:
            message = f"API rate limit exceeded for {caller.label}."
            return self._limits(web.json_response({"message": message}, status=403), budget)
        write = request.method != "GET"
        if write and time.monotonic() < self.limited_until:
            self.writes_while_limited += 1
        fault = next((f for f in self.faults if (write or not f.writes_only)
                      and (f.path is None or f.path in request.path)), None)  # fmt: skip
        if fault is not None:
            self.faults.remove(fault)
            if not fault.applied:
                return self._limits(await self._answer(fault), budget)
        if write:
            self.write_times.append(time.monotonic())
        try:
            response = await handler(request)
        except Refused as refusal:
            response = web.json_response({"message": refusal.message}, status=refusal.status)
        if fault is not None:
            response = await self._answer(fault)
        elif request.method == "GET" and response.status == 200:
            assert isinstance(response, web.Response) and isinstance(response.body, bytes)
            etag = f'W/"{hashlib.sha256(response.body).hexdigest()}"'
            response.headers["ETag"] = etag
            wanted = request.headers.get("If-None-Match", "")
            if etag in (tag.strip() for tag in wanted.split(",")):
                self.not_modified[caller.key] += 1  # free, as on GitHub
                return self._limits(web.Response(status=304, headers={"ETag": etag}), budget)
        budget.used += 1
        self.charged[caller.key] += 1
        return self._limits(response, budget)

    def _authenticate(self, request: web.Request) -> Caller:
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            raise Refused(401, "Requires authentication")
        if request.path.startswith("/app/") or request.path.endswith("/installation"):
            if self.app_id is None or self.app_public_key is None:
                raise Refused(401, "A JSON web token could not be decoded")
            try:
                verify_app_jwt(credential, self.app_public_key, self.app_id, self.clock())
            except BadJWT as error:
                raise Refused(401, str(error)) from error
            return Caller(f"app {self.app_id}", None, f"app ID {self.app_id}")
        if credential == self.token:
            return Caller(credential, None, "user ID 1")
        installation_id, expires = self._tokens.get(credential, (0, 0.0))
        if self.clock() >= expires:
            raise Refused(401, "Bad credentials")
        return Caller(credential, installation_id, f"installation ID {installation_id}")

    def _budget(self, key: str) -> Budget:
        budget = self._budgets.setdefault(key, Budget())
        if self.clock() >= budget.reset:
            budget.used, budget.reset = 0, self.clock() + RATE_WINDOW
        return budget

    def _limits(self, response: web.StreamResponse, budget: Budget) -> web.StreamResponse:
        """GitHub's rate-limit headers; those a fault brings win."""
        for name, value in (
            ("x-ratelimit-limit", self.rate_limit),
            ("x-ratelimit-remaining", max(self.rate_limit - budget.used, 0)),
            ("x-ratelimit-used", budget.used),
            ("x-ratelimit-reset", math.ceil(budget.reset)),
            ("x-ratelimit-resource", "core"),
        ):
            response.headers.setdefault(name, str(value))
        return response

    async def _answer(self, fault: Fault) -> web.Response:
        await asyncio.sleep(fault.delay)
        retry_after = fault.headers.get("retry-after", "")
        if retry_after.isdigit():
            self.limited_until = time.monotonic() + int(retry_after)
        if fault.html:
            page = f"<html><body><h1>{fault.status} {fault.message}</h1></body></html>"
            return web.Response(text=page, status=fault.status, headers=fault.headers,
                                content_type="text/html")  # fmt: skip
        return web.json_response({"message": fault.message}, status=fault.status,
                                 headers=fault.headers)  # fmt: skip

    def _repo(self, request: web.Request) -> str:
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}"
        if repo in self.vanished:
            status = self.vanished[repo]
            raise Refused(status, "Not Found" if status == 404 else "Repository access blocked")
        if repo in self.forbidden:
            raise Refused(403, "Resource not accessible")
        if repo not in self.repos or not self._reaches(request[CALLER], repo):
            raise Refused(404, "Not Found")
        return repo

    def _reaches(self, caller: Caller, repo: str) -> bool:
        return caller.installation_id in (None, self.installations.get(repo))

    def _record(self, request: web.Request, repo: str) -> Record:
        try:
            return self.find(repo, int(request.match_info["number"]))
        except (KeyError, ValueError):
            raise Refused(404, "Not Found") from None

    async def list_issues(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        wanted = {name for name in request.query.get("labels", "").split(",") if name}
        state = _choice(request, "state", ("open", "closed", "all"))
        sort = _choice(request, "sort", ("created", "updated", "comments"))
        direction = _choice(request, "direction", ("desc", "asc"))
        since = _since(request)
        matching = [
            issue for issue in self.issues.get(repo, [])
            if wanted <= {label["name"] for label in issue["labels"]}
            and (state == "all" or issue["state"] == state)
            and issue["updated_at"] >= since
        ]  # fmt: skip
        return _page_of(request, _sorted(matching, sort, direction), issue_view)

    async def list_pulls(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        state = _choice(request, "state", ("open", "closed", "all"))
        sort = _choice(request, "sort", ("created", "updated"))
        direction = _choice(request, "direction", ("desc", "asc") if sort == "created" else
                            ("asc", "desc"))  # fmt: skip
        matching = [
            record for record in self.issues.get(repo, [])
            if "pull_request" in record and (state == "all" or record["state"] == state)
        ]  # fmt: skip
        return _page_of(request, _sorted(matching, sort, direction), pull_view)

    async def list_reviews(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        pull = self._record(request, repo)
        if "pull_request" not in pull:  # an issue's number: GitHub has no such pull request
            raise Refused(404, "Not Found")
        return _page_of(request, self.reviews.get((repo, pull["number"]), []))

    async def list_comments(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        number = self._record(request, repo)["number"]
        return _page_of(request, self.comment_records.get((repo, number), []))

    async def create_issue(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        data = await _json_body(request, "title")
        issue = self._new(repo, data["title"], data.get("body", ""), data.get("labels", []),
                          self.token_user, author_type="Bot")  # fmt: skip
        return web.json_response(issue_view(issue), status=201)

    async def get_issue(self, request: web.Request) -> web.Response:
        return web.json_response(issue_view(self._record(request, self._repo(request))))

    async def update_issue(self, request: web.Request) -> web.Response:
        issue = self._record(request, self._repo(request))
        data = await _json_body(request)
        for name in ("title", "body", "state_reason"):
            if name in data:
                issue[name] = data[name]
        if "labels" in data:  # replaces, as GitHub does
            issue["labels"] = [{"name": n} for n in data["labels"]]
        if data.get("state") in ("open", "closed"):
            issue["state"] = data["state"]
            issue["closed_at"] = RECEIVER_CLOSED_AT if data["state"] == "closed" else None
        issue["updated_at"] = stamp(self._now())
        return web.json_response(issue_view(issue))

    async def create_comment(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        number = self._record(request, repo)["number"]
        body = (await _json_body(request, "body"))["body"]
        comment = self.comment_on(repo, number, self.token_user, self._now(), body, "Bot")
        return web.json_response(comment, status=201)

    async def org_repos(self, request: web.Request) -> web.Response:
        org = request.match_info["org"]
        owned = sorted(r for r in self.repos if r.partition("/")[0] == org)
        if org in self.user_owners or not owned:
            raise Refused(404, "Not Found")
        visible = [r for r in owned if r not in self.vanished and
                   self._reaches(request[CALLER], r)]  # fmt: skip
        return _page_of(request, [
            {"full_name": r, "name": r.partition("/")[2], "owner": {"login": org},
             "archived": False, "private": False}
            for r in visible
        ])  # fmt: skip

    async def create_token(self, request: web.Request) -> web.Response:
        installation_id = request.match_info["id"]
        if installation_id not in {str(i) for i in self.installations.values()}:
            raise Refused(404, "Not Found")
        token = f"ghs_{secrets.token_hex(18)}"
        expires = self.clock() + self.token_lifetime
        self._tokens[token] = (int(installation_id), expires)
        self.tokens_issued += 1
        return web.json_response({
            "token": token, "expires_at": stamp(datetime.fromtimestamp(expires, UTC)),
            "permissions": {"issues": "read", "pull_requests": "read", "metadata": "read"},
            "repository_selection": "selected",
        }, status=201)  # fmt: skip

    async def repo_installation(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        if repo not in self.installations:
            raise Refused(404, "Not Found")
        return _installation(self.installations[repo], request.match_info["owner"])

    async def org_installation(self, request: web.Request) -> web.Response:
        org = request.match_info["org"]
        ids = {i for r, i in self.installations.items() if r.partition("/")[0] == org}
        if org in self.user_owners or not ids:
            raise Refused(404, "Not Found")
        return _installation(min(ids), org)

    async def page(self, request: web.Request) -> web.Response:
        """The issues written over HTTP (by the receiver), not the test data laid out."""
        comments = self.comments
        rows = "".join(
            f"<tr><td>{html.escape(repo)}#{i['number']}</td><td>{i['state']}</td>"
            f"<td>{html.escape(i['title'])}</td>"
            f"<td>{len(comments.get((repo, i['number']), []))}</td>"
            f"<td><details><summary>body</summary><pre>{html.escape(i['body'])}</pre>"
            "</details></td></tr>"
            for repo, issues in self.issues.items() for i in issues
            if "pull_request" not in i and i["user"]["login"] == self.token_user
        )  # fmt: skip
        return web.Response(
            text="<!DOCTYPE html><meta charset=utf-8><meta http-equiv=refresh content=5>"
            "<title>GitHub stand-in</title><style>body{font-family:sans-serif}td{padding:4px 8px;"
            "border-bottom:1px solid #ddd;vertical-align:top}</style><h1>GitHub stand-in: issues "
            "filed by the alert receiver</h1><table><tr><th>Issue</th><th>State</th><th>Title</th>"
            f"<th>Comments</th><th></th></tr>{rows}</table>",
            content_type="text/html",
        )

    async def issues_json(self, request: web.Request) -> web.Response:
        return web.json_response(self.issues)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)


def _installation(installation_id: int, login: str) -> web.Response:
    return web.json_response({"id": installation_id, "account": {"login": login}})


async def _json_body(request: web.Request, *required: str) -> dict[str, Any]:
    """The request's JSON object; GitHub's 400 or 422 when it is not one or lacks a field."""
    try:
        data = await request.json()
    except ValueError:
        raise Refused(400, "Problems parsing JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "Problems parsing JSON: expected an object")
    missing = [name for name in required if not isinstance(data.get(name), str)]
    if missing:
        raise Refused(422, f"Invalid request: {', '.join(missing)} is missing or not a string")
    return data


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str:
    """The query parameter ``name``, one of ``allowed`` (the first is the default)."""
    value = request.query.get(name, allowed[0])
    if value not in allowed:
        raise Refused(422, f"Invalid value {value!r} for parameter {name}: expected one of "
                           f"{', '.join(allowed)}")  # fmt: skip
    return value


def _since(request: web.Request) -> str:
    """The ``since`` parameter in the records' own format (they compare as strings)."""
    value = request.query.get("since")
    if value is None:
        return ""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise Refused(422, f"Invalid value {value!r} for parameter since: expected an ISO 8601 "
                           "timestamp such as 2026-11-25T12:00:00Z") from None  # fmt: skip
    return stamp(when if when.tzinfo else when.replace(tzinfo=UTC))


def _sorted(records: list[Record], sort: str, direction: str) -> list[Record]:
    key = {"created": "created_at", "updated": "updated_at", "comments": "comments"}[sort]
    return sorted(records, key=lambda r: (r[key], r["number"]), reverse=direction == "desc")


def _int_param(request: web.Request, name: str, default: int) -> int:
    value = request.query.get(name, str(default))
    if not value.isdigit() or int(value) < 1:
        raise Refused(422, f"Invalid value {value!r} for parameter {name}: expected a whole "
                           "number from 1")  # fmt: skip
    return int(value)


def _page_of(
    request: web.Request,
    items: list[Record],
    view: Callable[[Record], Record] = lambda item: item,
) -> web.Response:
    """The page of ``items`` the request asks for, with ``Link`` to the next and last ones."""
    per_page = min(_int_param(request, "per_page", 30), PAGE_SIZE_LIMIT)
    page = _int_param(request, "page", 1)
    last = max(math.ceil(len(items) / per_page), 1)
    headers = {}
    if page < last:
        links = (_link(request, page + 1, "next"), _link(request, last, "last"))
        headers["Link"] = ", ".join(links)
    chunk = items[(page - 1) * per_page : page * per_page]
    return web.json_response([view(item) for item in chunk], headers=headers)


def _link(request: web.Request, page: int, rel: str) -> str:
    return f'<{request.url.with_query(dict(request.query) | {"page": str(page)})}>; rel="{rel}"'
