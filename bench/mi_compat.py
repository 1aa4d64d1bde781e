"""The GitHub routes thoth-station/mi (PyGithub) needs beyond what repo-metrics uses, added to
the stand-in for the benchmark only: ``/rate_limit``, the repository, single pull requests and
issues, and a pull request's files, commits, labels and timeline. They are served from the
stand-in's records and counted and charged like its own routes; ``/rate_limit`` is counted but,
as on GitHub, not charged. Listing items gain the ``url`` fields GitHub sends (PyGithub follows
them), pointing at the stand-in itself."""

import json
import time
import zlib
from typing import Any

from aiohttp import web

from thoth_monitoring.demo.github_standin import GitHubStandIn
from thoth_monitoring.demo.github_standin.records import Record, issue_view, pull_view
from thoth_monitoring.demo.github_standin.server import Handler, Refused

REPO = "/repos/{owner}/{repo}"
LISTINGS = {REPO + "/pulls": "pulls", REPO + "/issues": "issues"}


def app(github: GitHubStandIn, base_url: str) -> web.Application:
    """The stand-in's application with mi's routes; ``base_url`` is where it is served."""
    routes = _Routes(github, base_url.rstrip("/"))
    application = github.app()
    application.middlewares.insert(0, routes.rate_limit)  # before the stand-in charges it
    application.middlewares.append(routes.linked)  # inside: the ETag covers the links
    for path, handler in (
        (REPO, routes.repository),
        (REPO + "/pulls/{number}", routes.pull),
        (REPO + "/pulls/{number}/files", routes.files),
        (REPO + "/pulls/{number}/commits", routes.commits),
        (REPO + "/issues/{number}", routes.issue),
        (REPO + "/issues/{number}/labels", routes.labels),
        (REPO + "/issues/{number}/timeline", routes.timeline),
    ):
        application.router.add_get(path, handler)
    return application


class _Routes:
    def __init__(self, github: GitHubStandIn, base: str) -> None:
        self.github = github
        self.base = base

    @web.middleware
    async def rate_limit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != "/rate_limit":
            return await handler(request)
        self.github.requests["GET /rate_limit"] += 1
        self.github.statuses[200] += 1
        remaining = self.github.rate_limit_remaining
        core = {"limit": self.github.rate_limit, "remaining": remaining,
                "used": self.github.rate_limit - remaining,
                "reset": int(time.time()) + 3600}  # fmt: skip
        return web.json_response({"resources": {"core": core, "search": core}, "rate": core})

    @web.middleware
    async def linked(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Listing items with the ``url`` fields of their kind (``/pulls`` or ``/issues``)."""
        response = await handler(request)
        resource = request.match_info.route.resource
        kind = LISTINGS.get(resource.canonical if resource else "")
        if kind is None or response.status != 200 or not isinstance(response, web.Response):
            return response
        assert isinstance(response.body, bytes)
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}"
        items = [self._links(item, repo, kind) for item in json.loads(response.body)]
        response.body = json.dumps(items).encode()
        return response

    async def repository(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        owner, _, name = repo.partition("/")
        return web.json_response({
            "id": zlib.crc32(repo.encode()), "name": name, "full_name": repo,
            "owner": {"login": owner, "type": "Organization"}, "url": f"{self.base}/repos/{repo}",
            "clone_url": f"https://github.example/{repo}.git", "default_branch": "main",
            "archived": False, "private": False,
        })  # fmt: skip

    async def pull(self, request: web.Request) -> web.Response:
        repo, record = self._pull(request)
        changed = 2 + record["number"] % 40  # lines: a stable size per pull request
        details = {"additions": changed, "deletions": changed // 2, "commits": 1,
                   "changed_files": 1, "merged": record["merged_at"] is not None}  # fmt: skip
        return web.json_response(self._links(pull_view(record), repo, "pulls") | details)

    async def files(self, request: web.Request) -> web.Response:
        _, record = self._pull(request)
        changed = 2 + record["number"] % 40
        return web.json_response([{"filename": "Pipfile.lock", "status": "modified",
                                   "additions": changed, "deletions": changed // 2,
                                   "changes": changed + changed // 2,
                                   "sha": f"{record['number']:040x}"}])  # fmt: skip

    async def commits(self, request: web.Request) -> web.Response:
        _, record = self._pull(request)
        return web.json_response([{"sha": f"{record['number']:040x}"}])

    async def issue(self, request: web.Request) -> web.Response:
        repo, record = self._record(request)
        closer = record.get("merged_by") if record["state"] == "closed" else None
        view = self._links(issue_view(record), repo, "issues")
        return web.json_response(view | {"closed_by": closer})

    async def labels(self, request: web.Request) -> web.Response:
        _, record = self._record(request)
        return web.json_response([{"name": label["name"], "color": "ededed"}
                                  for label in record["labels"]])  # fmt: skip

    async def timeline(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.json_response([])  # no cross-references in the bench data

    def _links(self, item: dict[str, Any], repo: str, kind: str) -> dict[str, Any]:
        number = item["number"]
        issue_url = f"{self.base}/repos/{repo}/issues/{number}"
        links = {"url": f"{self.base}/repos/{repo}/{kind}/{number}", "issue_url": issue_url,
                 "comments_url": f"{issue_url}/comments"}  # fmt: skip
        if kind == "issues" and "pull_request" in item:
            pull_url = f"{self.base}/repos/{repo}/pulls/{number}"
            links["pull_request"] = item["pull_request"] | {"url": pull_url}
        return item | links

    def _repo(self, request: web.Request) -> str:
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}"
        if repo not in self.github.repos:
            raise Refused(404, "Not Found")
        return repo

    def _record(self, request: web.Request) -> tuple[str, Record]:
        repo = self._repo(request)
        try:
            return repo, self.github.find(repo, int(request.match_info["number"]))
        except (KeyError, ValueError):
            raise Refused(404, "Not Found") from None

    def _pull(self, request: web.Request) -> tuple[str, Record]:
        repo, record = self._record(request)
        if "pull_request" not in record:
            raise Refused(404, "Not Found")
        return repo, record
