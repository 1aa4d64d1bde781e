"""A local stand-in for the GitHub REST API subset the alert receiver and repo-metrics use.

For the receiver: issues listed with label filters and ``Link`` pagination (pull requests mixed
in), read one by one, created, updated with label-replace semantics, commented, comments listed;
injectable faults for the next requests: 5xx, rate limits (403/429, with ``retry-after``), an
HTML error page instead of JSON, a hang — each either before the request is applied or *after*
it (as GitHub or a proxy in front of it can fail: the issue exists, the answer says otherwise),
and optionally only on requests of one path. Writes that arrive while a ``retry-after`` window
is open are counted. The demo shows what the receiver filed on its ``/`` page (``/issues.json``
for scripts).

For repo-metrics: pull requests, reviews, issues and comments of many repositories listed with
GitHub's sort, direction and ``since``; the org's repositories; GitHub App JWTs traded for
installation tokens that reach only their installation's repositories and expire; rate limits
per token; ``ETag``s, with ``If-None-Match`` answered ``304`` free of charge. Test data is laid
out with explicit times (``add_pull_request``, ``review``, ``merge``, ``delete_user``, ...)."""

from thoth_monitoring.demo.github_standin.server import Fault, GitHubStandIn

__all__ = ["Fault", "GitHubStandIn"]
