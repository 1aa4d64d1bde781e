"""A local stand-in for the GitHub REST API subset the alert receiver uses: issues listed with
label filters and ``Link`` pagination (pull requests mixed in), created, updated with
label-replace semantics, commented; rate-limit headers; and injectable faults (5xx, secondary
rate limit 403, 429) for the next requests. The tests drive it, and the demo shows what the
receiver filed on its ``/`` page (``/issues.json`` for scripts)."""

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

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        issues = "/repos/{owner}/{repo}/issues"
        app.router.add_get(issues, self.list_issues)
        app.router.add_post(issues, self.create_issue)
        app.router.add_patch(issues + "/{number}", self.update_issue)
        app.router.add_post(issues + "/{number}/comments", self.create_comment)
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
        for fault in self.faults:
            if write or not fault.writes_only:
                self.faults.remove(fault)
                return web.json_response({"message": fault.message}, status=fault.status,
                                         headers=fault.headers)  # fmt: skip
        if write:
            self.write_times.append(time.monotonic())
        self.rate_limit_remaining -= 1
        response = await handler(request)
        response.headers["x-ratelimit-limit"] = "5000"
        response.headers["x-ratelimit-remaining"] = str(self.rate_limit_remaining)
        response.headers["x-ratelimit-reset"] = "4102444800"
        return response

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
        per_page = min(int(request.query.get("per_page", "30")), PAGE_SIZE_LIMIT)
        page = int(request.query.get("page", "1"))
        matching = [
            issue for issue in self.issues.get(repo, [])
            if wanted <= {label["name"] for label in issue["labels"]}
            and (state == "all" or issue["state"] == state)
        ]  # fmt: skip
        chunk = matching[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(matching):
            query = dict(request.query) | {"page": str(page + 1)}
            url = request.url.with_query(query)
            headers["Link"] = f'<{url}>; rel="next"'
        return web.json_response(chunk, headers=headers)

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
