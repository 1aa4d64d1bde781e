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

    async def list_issues(self, repo: str, label: str) -> list[Issue]: ...

    async def create_issue(self, repo: str, title: str, body: str, labels: list[str]) -> Issue: ...

    async def update_issue(self, issue: Issue, **fields: Any) -> Issue: ...

    async def comment(self, issue: Issue, body: str) -> None: ...

    async def list_comments(self, issue: Issue) -> list[Comment]: ...


class GitHubIssues(GitHubClient):
    """The real thing."""

    async def list_issues(self, repo: str, label: str) -> list[Issue]:
        """Every issue (open and closed) carrying ``label``, following ``Link`` pagination and
        skipping pull requests."""
        params = {"labels": label, "state": "all", "sort": "created", "direction": "asc"}
        items = await self.list_all(self.url(f"/repos/{repo}/issues"), "list_issues", params)
        return [parsed(Issue.from_api, repo, i) for i in items if "pull_request" not in i]

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
