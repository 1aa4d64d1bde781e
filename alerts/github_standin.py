"""A local stand-in for the GitHub REST API subset the alert receiver uses: issues listed with
label filters and ``Link`` pagination (pull requests mixed in), created, updated with
label-replace semantics, commented, comments listed; rate-limit headers; and injectable faults
for the next requests: 5xx, rate limits (403/429, with ``retry-after``), an HTML error page
instead of JSON, a hang — each either before the request is applied or *after* it (as GitHub
or a proxy in front of it can fail: the issue exists, the answer says otherwise). Writes that
arrive while a ``retry-after`` window is open are counted. The tests drive it, and the demo
shows what the receiver filed on its ``/`` page (``/issues.json`` for scripts)."""

import asyncio
import html
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PAGE_SIZE_LIMIT = 100
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


@dataclass
class GitHubStandIn:
    token: str = "test-token"
    repos: set[str] = field(default_factory=lambda: {"thoth-station/thoth-application"})
    forbidden: set[str] = field(default_factory=set)
    issues: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    write_times: list[float] = field(default_factory=list)
    rate_limit_remaining: int = 5000
    limited_until: float = 0.0  # monotonic end of the last retry-after window
    writes_while_limited: int = 0

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        issues = "/repos/{owner}/{repo}/issues"
        app.router.add_get(issues, self.list_issues)
        app.router.add_post(issues, self.create_issue)
        app.router.add_patch(issues + "/{number}", self.update_issue)
        app.router.add_post(issues + "/{number}/comments", self.create_comment)
        app.router.add_get(issues + "/{number}/comments", self.list_comments)
        app.router.add_get("/", self.page)
        app.router.add_get("/issues.json", self.issues_json)
        return app

    def add_pull_request(self, repo: str, labels: list[str]) -> None:
        self._new(repo, "a pull request", "", labels)["pull_request"] = {"url": "..."}

    def open_issues(self, repo: str = "thoth-station/thoth-application") -> list[dict[str, Any]]:
        return [
            i for i in self.issues.get(repo, []) if i["state"] == "open" and "pull_request" not in i
        ]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in ("/", "/issues.json"):
            return await handler(request)
        resource = request.match_info.route.resource
        self.requests[f"{request.method} {resource.canonical if resource else request.path}"] += 1
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"message": "Bad credentials"}, status=401)
        write = request.method != "GET"
        if write and time.monotonic() < self.limited_until:
            self.writes_while_limited += 1
        fault = next((f for f in self.faults if write or not f.writes_only), None)
        if fault is not None:
            self.faults.remove(fault)
            if not fault.applied:
                return await self._answer(fault)
        if write:
            self.write_times.append(time.monotonic())
        self.rate_limit_remaining -= 1
        response = await handler(request)
        if fault is not None:
            return await self._answer(fault)
        response.headers["x-ratelimit-limit"] = "5000"
        response.headers["x-ratelimit-remaining"] = str(self.rate_limit_remaining)
        response.headers["x-ratelimit-reset"] = "4102444800"
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
        if repo in self.forbidden:
            raise web.HTTPForbidden(text='{"message": "Resource not accessible"}',
                                    content_type="application/json")  # fmt: skip
        if repo not in self.repos:
            raise web.HTTPNotFound(text='{"message": "Not Found"}', content_type="application/json")
        return repo

    async def list_issues(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        wanted = {name for name in request.query.get("labels", "").split(",") if name}
        state = request.query.get("state", "open")
        matching = [
            issue for issue in self.issues.get(repo, [])
            if wanted <= {label["name"] for label in issue["labels"]}
            and (state == "all" or issue["state"] == state)
        ]  # fmt: skip
        return _page_of(request, matching)

    async def create_issue(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        data = await request.json()
        issue = self._new(repo, data["title"], data.get("body", ""), data.get("labels", []))
        return web.json_response(issue, status=201)

    async def update_issue(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        issue = self._find(repo, int(request.match_info["number"]))
        data = await request.json()
        for name in ("title", "body", "state_reason"):
            if name in data:
                issue[name] = data[name]
        if "labels" in data:  # replaces, as GitHub does
            issue["labels"] = [{"name": n} for n in data["labels"]]
        if data.get("state") in ("open", "closed"):
            issue["state"] = data["state"]
            issue["closed_at"] = "2026-11-25T00:00:00Z" if data["state"] == "closed" else None
        return web.json_response(issue)

    async def create_comment(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        number = int(request.match_info["number"])
        self._find(repo, number)
        self.comments.setdefault((repo, number), []).append((await request.json())["body"])
        return web.json_response({"id": len(self.comments)}, status=201)

    async def list_comments(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        number = int(request.match_info["number"])
        self._find(repo, number)
        bodies = self.comments.get((repo, number), [])
        return _page_of(request, [{"id": n, "body": b} for n, b in enumerate(bodies, 1)])

    async def page(self, request: web.Request) -> web.Response:
        rows = "".join(
            f"<tr><td>{html.escape(repo)}#{i['number']}</td><td>{i['state']}</td>"
            f"<td>{html.escape(i['title'])}</td>"
            f"<td>{len(self.comments.get((repo, i['number']), []))}</td>"
            f"<td><details><summary>body</summary><pre>{html.escape(i['body'])}</pre>"
            "</details></td></tr>"
            for repo, issues in self.issues.items() for i in issues if "pull_request" not in i
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

    def _new(self, repo: str, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        issues = self.issues.setdefault(repo, [])
        number = len(issues) + 1
        issue = {
            "number": number, "title": title, "body": body, "state": "open",
            "labels": [{"name": n} for n in labels], "closed_at": None, "state_reason": None,
            "html_url": f"https://github.example/{repo}/issues/{number}",
        }  # fmt: skip
        issues.append(issue)
        return issue

    def _find(self, repo: str, number: int) -> dict[str, Any]:
        for issue in self.issues.get(repo, []):
            if issue["number"] == number:
                return issue
        raise web.HTTPNotFound(text='{"message": "Not Found"}', content_type="application/json")


def _page_of(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    """The page of ``items`` the request asks for, with a ``Link`` to the next one."""
    per_page = min(int(request.query.get("per_page", "30")), PAGE_SIZE_LIMIT)
    page = int(request.query.get("page", "1"))
    headers = {}
    if page * per_page < len(items):
        url = request.url.with_query(dict(request.query) | {"page": str(page + 1)})
        headers["Link"] = f'<{url}>; rel="next"'
    return web.json_response(items[(page - 1) * per_page : page * per_page], headers=headers)
