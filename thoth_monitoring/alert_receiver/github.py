"""The alert receiver's view of GitHub: issues listed by label (the strongly consistent list
API, never search), created, updated, commented, their comments listed. Transport, retries and
rate limits are the project's one client, ``core.github``."""

from dataclasses import dataclass
from typing import Any, Protocol

from thoth_monitoring.core.github import GitHubClient, GitHubError, RateLimited, parsed

__all__ = ["Comment", "GitHubError", "GitHubIssues", "Issue", "IssueTracker", "RateLimited"]


@dataclass(frozen=True)
class Issue:
    repo: str
    number: int
    title: str
    body: str
    state: str
    closed_at: str | None
    html_url: str
    state_reason: str | None = None

    @classmethod
    def from_api(cls, repo: str, data: dict[str, Any]) -> "Issue":
        return cls(
            repo=repo,
            number=int(data["number"]),
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            state=str(data.get("state") or "open"),
            closed_at=data.get("closed_at"),
            html_url=str(data.get("html_url") or ""),
            state_reason=data.get("state_reason"),
        )


@dataclass(frozen=True)
class Comment:
    id: int
    body: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "Comment":
        return cls(id=int(data["id"]), body=str(data.get("body") or ""))


class IssueTracker(Protocol):
    """What the receiver needs from GitHub (the real client, or a dry run that only logs)."""

    async def list_issues(self, repo: str, label: str, state: str = "all") -> list[Issue]: ...

    async def get_issue(self, repo: str, number: int) -> Issue: ...

    async def create_issue(self, repo: str, title: str, body: str, labels: list[str]) -> Issue: ...

    async def update_issue(self, issue: Issue, **fields: Any) -> Issue: ...

    async def comment(self, issue: Issue, body: str) -> None: ...

    async def list_comments(self, issue: Issue) -> list[Comment]: ...


class GitHubIssues(GitHubClient):
    """The real thing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._etags: dict[tuple[str, int], tuple[str, Issue]] = {}  # (repo, number) -> last seen

    async def list_issues(self, repo: str, label: str, state: str = "all") -> list[Issue]:
        """Every issue in ``state`` (all: open and closed) carrying ``label``, oldest first,
        following ``Link`` pagination and skipping pull requests."""
        params = {"labels": label, "state": state, "sort": "created", "direction": "asc"}
        items = await self.list_all(self.url(f"/repos/{repo}/issues"), "list_issues", params)
        return [parsed(Issue.from_api, repo, i) for i in items if "pull_request" not in i]

    async def get_issue(self, repo: str, number: int) -> Issue:
        """One issue; asked conditionally when read before, so an unchanged one is a free 304."""
        etag, known = self._etags.get((repo, number), (None, None))
        answer = await self.get(self.url(f"/repos/{repo}/issues/{number}"), "get_issue", etag=etag)
        if answer.status == 304 and known is not None:
            return known
        issue = parsed(Issue.from_api, repo, answer.data)
        if answer.etag:
            self._etags[(repo, number)] = (answer.etag, issue)
        return issue

    async def create_issue(self, repo: str, title: str, body: str, labels: list[str]) -> Issue:
        fields = {"title": title, "body": body, "labels": labels}
        data = await self.write("POST", self.url(f"/repos/{repo}/issues"), "create_issue", fields)
        return parsed(Issue.from_api, repo, data)

    async def update_issue(self, issue: Issue, **fields: Any) -> Issue:
        url = self.url(f"/repos/{issue.repo}/issues/{issue.number}")
        data = await self.write("PATCH", url, "update_issue", fields)
        return parsed(Issue.from_api, issue.repo, data)

    async def comment(self, issue: Issue, body: str) -> None:
        url = self.url(f"/repos/{issue.repo}/issues/{issue.number}/comments")
        await self.write("POST", url, "comment", {"body": body})

    async def list_comments(self, issue: Issue) -> list[Comment]:
        url = self.url(f"/repos/{issue.repo}/issues/{issue.number}/comments")
        items = await self.list_all(url, "list_comments")
        return [parsed(Comment.from_api, item) for item in items]
