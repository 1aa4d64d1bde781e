"""``thoth-monitoring repo-metrics``: its options; the work lives in ``service``."""

import argparse
import asyncio
from pathlib import Path
from typing import Any

from thoth_monitoring.core.settings import (
    add_command,
    config_valid,
    configure,
    setting,
    usage_error,
)

DEFAULT_LISTEN = "0.0.0.0:9707"


def register(commands: Any) -> None:
    command = add_command(
        commands,
        "repo-metrics",
        help="Kebechet's pull requests and the issues of its repositories, from GitHub",
        description="Collect the pull requests (with their first review) and issues (with "
        "their first response) of the repositories Kebechet maintains: its active "
        "installations in the knowledge graph (--database-url) plus the repositories and "
        "organisations of the config file. Collection is incremental: a repository that did "
        "not change costs one conditional request, answered 304 and not charged to the rate "
        "limit. The knowledge is kept as JSON per repository in --store (or on Ceph/S3 with "
        "the config file's s3: section). Kebechet's pull requests are recognised by author "
        "(--kebechet-login) and classified per manager and kind from Kebechet's title "
        "templates. 'repo-metrics --once' collects once and prints the metrics (exit 1 if a "
        "repository failed); 'repo-metrics serve' collects every --interval and serves them "
        "on --listen. Authentication: $GITHUB_TOKEN, --github-token-file, or a GitHub App "
        "(--github-app-id and --github-app-private-key-file; one token per installation).",
    )
    command.add_argument("action", nargs="?", choices=["serve"], help="serve /metrics")
    command.add_argument(
        "--once", action="store_true", help="collect once, print the exposition, exit"
    )
    setting(command, "--listen", help=f"address to serve on (default: {DEFAULT_LISTEN})")
    setting(command, "--github-url", help="GitHub API URL (default: https://api.github.com)")
    setting(command, "--github-token-file", type=Path, help="file holding a token")
    setting(command, "--github-app-id", help="GitHub App id (with a private key file)")
    setting(command, "--github-app-private-key-file", type=Path, help="the App's private key (PEM)")
    setting(
        command,
        "--database-url",
        help="the knowledge graph, for Kebechet's installations (kebechet_github_installations)",
    )
    setting(
        command,
        "--repository",
        dest="repositories",
        action="append",
        help="owner/name to collect as well; repeatable",
    )
    setting(
        command,
        "--organization",
        dest="organizations",
        action="append",
        help="collect every (non-archived) repository of this organisation; repeatable",
    )
    setting(
        command,
        "--kebechet-login",
        dest="kebechet_logins",
        action="append",
        help="the login Kebechet opens pull requests as; repeatable (default: khebhut[bot])",
    )
    setting(
        command,
        "--store",
        type=Path,
        help="local folder of the knowledge (default: ./repo-metrics-store)",
    )
    setting(command, "--interval", help="time between collections with serve (default: 1h)")
    setting(command, "--concurrency", type=int, help="repositories collected at once (default: 4)")
    setting(
        command,
        "--top-repositories",
        type=int,
        help="repositories labelled in per-repository metrics (default: 20; others summed)",
    )
    command.set_defaults(handler=_repo_metrics)


def _repo_metrics(args: argparse.Namespace) -> int:
    from thoth_monitoring.core.service import run_until_stopped
    from thoth_monitoring.repo_metrics.service import RepoMetricsSettings, run_once, serve

    settings = configure(RepoMetricsSettings, args)
    if settings.authorization() == "app":
        settings.private_key()
    else:
        settings.token()
    if args.check_config:
        store = settings.knowledge_store().backend.describe()
        return config_valid(f"{settings.authorization()} authentication, knowledge in {store}")
    if args.once:
        return asyncio.run(run_once(settings))
    if args.action == "serve":
        return run_until_stopped(serve(settings))
    return usage_error("repo-metrics", "say --once or serve (see --help)")
