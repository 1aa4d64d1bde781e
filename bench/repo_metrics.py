"""bench/repo_metrics: GitHub requests of ``repo-metrics`` and of thoth-station/mi, same data,
same run.

The GitHub stand-in serves 200 repositories x 300 pull requests (40 % by Kebechet,
``khebhut[bot]``, with its title templates; about half reviewed, some by bots; about 70 %
merged or closed) and 30 issues each, some commented, all from a seeded random source
(``--short``: 20 x 60). Its rate limit is lifted so that nothing waits; "charged" counts the
requests GitHub would count against the token's limit (304 answers and ``/rate_limit`` are
free).

Ours: the real ``thoth-monitoring repo-metrics --once`` as a subprocess, three runs: (1) the
first collection, (2) nothing changed — target: one request per repository, all answered 304,
none charged, (3) after 100 pull requests changed across the repositories (reviews, merges,
closes, title edits) — target: at most the repositories plus 3 requests per changed pull
request. Each: wall time, requests, 304s, charged requests, requests per route.

Baseline: thoth-station/mi (PyPI ``srcopsmetrics`` 2.12.0, in its own venv under
``.bench-cache/``, installed on first use; skipped, saying so, when that fails) run per
repository as mi-scheduler runs it (``-r owner/repo -c -l -e PullRequest,Issue``) on the first
``--mi-sample`` repositories of the same data, at the same three points. The routes mi needs
beyond ours come from bench/mi_compat.py. PyGithub's pause between requests (0.25 s in 2.x) is
set to 0: the bench counts requests, it does not wait. Figures per repository are the like-for-
like comparison; mi's totals are for its sample only, never scaled.
Target: at least 50x fewer charged requests than mi on the unchanged run.

Run with ``python -m bench.repo_metrics [--short]`` (``make bench`` runs it).
Results: bench/results/repo_metrics.json.
"""

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bench import mi_compat
from bench.common import free_port, print_table, write_result
from thoth_monitoring.demo.github_standin import GitHubStandIn
from thoth_monitoring.demo.github_standin.records import stamp
from thoth_monitoring.repo_metrics.kebechet import UNKNOWN, classify

CODE = Path(__file__).resolve().parents[1]
CACHE = CODE / ".bench-cache"
MI_VENV = CACHE / "mi-venv"
MI_PACKAGES = ["srcopsmetrics==2.12.0", "tqdm", "pydriller==2.6", "pygithub<2.7"]
KEBECHET = "khebhut[bot]"
RUN_TIMEOUT = 1800  # seconds one run of either tool may take
T0 = datetime(2026, 1, 5, tzinfo=UTC)
CHANGED_AT = T0 + timedelta(days=400)  # after everything in the history
PEOPLE = ("alice", "bob", "carol", "dan", "erin", "frank")
REVIEW_BOTS = (("sesheta", "User"), ("github-actions[bot]", "Bot"))  # sesheta: a bot by config
KEBECHET_TITLES = (
    "Automatic update of dependencies by Kebechet for the {env} environment",
    "Automatic update of dependency {package} from 1.{n}.0 to 1.{m}.0",
    "Release of version 0.{n}.{m}",
    "Initial dependency lock",
    "Auto generated update",
    "Syncing requirements.txt using Pipfile.lock",
    "Thoth Configuration Initialization",
)
FAILED_UPDATE = "Failed to update dependencies to their latest version for default environment"
PACKAGES = ("requests", "flask", "numpy", "thoth-common", "pandas")
MI_SHIM = """\
import inspect, os, runpy, sys, github
_init = github.Github.__init__
def _at_stand_in(self, *args, **kwargs):
    kwargs.setdefault("base_url", os.environ["GITHUB_BASE_URL"])
    if "seconds_between_requests" in inspect.signature(_init).parameters:
        kwargs.setdefault("seconds_between_requests", 0)  # count requests, do not wait
    _init(self, *args, **kwargs)
github.Github.__init__ = _at_stand_in
sys.argv = ["srcopsmetrics.cli", *sys.argv[1:]]
runpy.run_module("srcopsmetrics.cli", run_name="__main__")
"""


@dataclass(frozen=True)
class Size:
    repositories: int
    pull_requests: int
    issues: int
    changes: int


def populate(github: GitHubStandIn, size: Size, seed: int) -> list[str]:
    """The bench's history in ``github``; the repositories, in order."""
    rng = random.Random(seed)
    repositories = [f"thoth-bench/repo-{n:03d}" for n in range(size.repositories)]
    for repo in repositories:
        github.add_repository(repo)
        issues = set(rng.sample(range(size.pull_requests + size.issues), size.issues))
        for slot in range(size.pull_requests + size.issues):
            created = T0 + timedelta(hours=slot * 8 + rng.randrange(8))
            if slot in issues:
                _issue(github, rng, repo, created)
            else:
                _pull_request(github, rng, repo, created)
    return repositories


def _pull_request(github: GitHubStandIn, rng: random.Random, repo: str, at: datetime) -> None:
    if rng.random() < 0.4:
        number = github.add_pull_request(
            repo, title=kebechet_title(rng), author=KEBECHET, at=at, author_type="Bot"
        )
    else:
        title = f"Fix {rng.choice(PACKAGES)} handling ({rng.randrange(1000)})"
        number = github.add_pull_request(repo, title=title, author=rng.choice(PEOPLE), at=at)
    hours = 1.0
    if rng.random() < 0.5:
        reviewer, kind = (
            rng.choice(REVIEW_BOTS) if rng.random() < 0.2 else (rng.choice(PEOPLE), "User")
        )
        state = rng.choice(("APPROVED", "APPROVED", "COMMENTED", "CHANGES_REQUESTED"))
        hours = rng.uniform(0.5, 48)
        github.review(repo, number, reviewer, at + timedelta(hours=hours), state, kind)
    ending = rng.random()
    end = at + timedelta(hours=hours + rng.uniform(0.5, 72))
    if ending < 0.5:
        github.merge(repo, number, end, by="sesheta")
    elif ending < 0.7:
        github.close(repo, number, end)


def _issue(github: GitHubStandIn, rng: random.Random, repo: str, at: datetime) -> None:
    author, kind = (rng.choice(PEOPLE), "User") if rng.random() < 0.7 else (KEBECHET, "Bot")
    title = "Kebechet update" if kind == "User" else FAILED_UPDATE
    number = github.add_issue(repo, title, author, at, kind)
    for reply in range(rng.choice((0, 0, 1, 2, 3))):
        who, who_kind = rng.choice((*[(p, "User") for p in PEOPLE], (KEBECHET, "Bot")))
        github.comment_on(repo, number, who, at + timedelta(hours=reply + 1), "noted", who_kind)
    if rng.random() < 0.6:
        github.close(repo, number, at + timedelta(hours=12))


def kebechet_title(rng: random.Random) -> str:
    """A title Kebechet writes; one no template knows would make the data lie, so it fails."""
    n, m = rng.randrange(1, 30), rng.randrange(30, 60)
    title = rng.choice(KEBECHET_TITLES).format(
        env=rng.choice(("default", "rhel-8", "fedora-38")), package=rng.choice(PACKAGES), n=n, m=m
    )
    if classify(title) == UNKNOWN:
        raise AssertionError(f"bench title {title!r} matches no Kebechet template")
    return title


def change(
    github: GitHubStandIn, repositories: list[str], count: int, seed: int
) -> tuple[Counter[str], int]:
    """``count`` pull requests changed, spread over the repositories; the changes by kind and
    how many repositories they touched."""
    rng = random.Random(seed + 1)
    kinds: Counter[str] = Counter()
    touched: set[tuple[str, int]] = set()
    while len(touched) < count:
        repo = repositories[len(touched) % len(repositories)]
        pulls = [r["number"] for r in github.issues[repo] if "pull_request" in r]
        number = rng.choice(pulls)
        if (repo, number) in touched:
            continue
        touched.add((repo, number))
        record = github.find(repo, number)
        at = CHANGED_AT + timedelta(minutes=len(touched))
        kind = rng.choice(("review", "merge", "close", "title"))
        if kind in ("merge", "close") and record["state"] != "open":
            kind = "review"
        if kind == "review":
            github.review(repo, number, rng.choice(PEOPLE), at)
        elif kind == "merge":
            github.merge(repo, number, at, by="sesheta")
        elif kind == "close":
            github.close(repo, number, at)
        else:
            record.update(title=f"{record['title']} (edited)", updated_at=stamp(at))
        kinds[kind] += 1
    return kinds, len({repo for repo, _ in touched})


class Meter:
    """The stand-in's counters around one run: what that run cost."""

    def __init__(self, github: GitHubStandIn) -> None:
        self.github = github
        self.before = self._counts()
        self.started = time.perf_counter()

    def _counts(self) -> tuple[Counter[str], int, int]:
        return (Counter(self.github.requests), sum(self.github.not_modified.values()),
                sum(self.github.charged.values()))  # fmt: skip

    def result(self, repositories: int) -> dict[str, Any]:
        seconds = time.perf_counter() - self.started
        routes, not_modified, charged = self._counts()
        per_route = routes - self.before[0]
        requests = sum(per_route.values())
        charged -= self.before[2]
        return {
            "repositories": repositories, "seconds": round(seconds, 2), "requests": requests,
            "not_modified": not_modified - self.before[1], "charged": charged,
            "requests_per_repository": round(requests / repositories, 2),
            "charged_per_repository": round(charged / repositories, 2),
            "per_route": dict(sorted(per_route.items())),
        }  # fmt: skip


async def ours(url: str, token: str, folder: Path, repositories: list[str]) -> dict[str, str]:
    """One ``repo-metrics --once``; its collection outcomes from the printed metrics."""
    config = folder / "repo-metrics.yaml"
    config.write_text(yaml.safe_dump({"repositories": repositories}))
    stdout = await _run(
        [sys.executable, "-m", "thoth_monitoring", "repo-metrics", "--once",
         "--config", str(config), "--github-url", url, "--store", str(folder / "store")],
        os.environ | {"PYTHONPATH": str(CODE), "GITHUB_TOKEN": token}, folder,
    )  # fmt: skip
    outcomes: dict[str, str] = {}
    for family in text_string_to_metric_families(stdout):
        for sample in family.samples:
            if sample.name == "thoth_repo_metrics_repository_collections_total" and sample.value:
                outcomes[sample.labels["outcome"]] = str(int(sample.value))
    return outcomes


async def _run(command: list[str], env: dict[str, str], cwd: Path) -> str:
    """``command``'s output; an exit status other than 0 or a run past the timeout raises,
    with the end of its error output."""
    process = await asyncio.create_subprocess_exec(
        *command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"{' '.join(command[:6])} ...: no end after {RUN_TIMEOUT} s") from None
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:6])} ... exited {process.returncode}: "
                           f"{stderr.decode(errors='replace')[-2000:]}")  # fmt: skip
    return stdout.decode(errors="replace")


def mi_python() -> tuple[Path | None, str]:
    """mi's interpreter (its venv made on first use) or None, and what happened."""
    python = MI_VENV / "bin" / "python"
    probe = [str(python), "-c", "import srcopsmetrics.cli, github, tqdm, pydriller"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python, f"reused {MI_VENV}"
    print(f"installing the baseline (srcopsmetrics 2.12.0) into {MI_VENV} ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(MI_VENV)], check=True,
                       capture_output=True, timeout=300)  # fmt: skip
        install = [str(MI_VENV / "bin" / "pip"), "install", "--quiet", *MI_PACKAGES]
        done = subprocess.run(install, capture_output=True, text=True, timeout=1200, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"could not create {MI_VENV}: {error}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"pip install {' '.join(MI_PACKAGES)} failed: {last}"
    return python, f"installed into {MI_VENV}"


async def mi(python: Path, url: str, token: str, folder: Path, sample: list[str],
             parallel: int) -> dict[str, int]:  # fmt: skip
    """mi once per repository of ``sample``, ``parallel`` at a time; entities it holds after."""
    shim = CACHE / "run_mi.py"
    shim.write_text(MI_SHIM)
    env = os.environ | {"GITHUB_ACCESS_TOKEN": token, "GITHUB_BASE_URL": url}
    env.pop("PYTHONPATH", None)
    slots = asyncio.Semaphore(parallel)

    async def one(repo: str) -> None:
        async with slots:
            await _run([str(python), str(shim), "-r", repo, "-c", "-l", "-e", "PullRequest,Issue",
                        "-k", str(folder / "knowledge")], env, folder)  # fmt: skip

    await asyncio.gather(*(one(repo) for repo in sample))
    stored: Counter[str] = Counter()
    for repo in sample:
        for entity in ("PullRequest", "Issue"):
            path = folder / "knowledge" / "bot_knowledge" / repo / f"{entity}.json"
            lines = path.read_text().splitlines() if path.exists() else []  # none stored
            stored[entity] += sum(1 for line in lines if line.strip())
    return dict(stored)


async def bench(size: Size, seed: int, mi_sample: int, mi_parallel: int) -> dict[str, Any]:
    github = GitHubStandIn(repos=set(), rate_limit=10**9)
    repositories = populate(github, size, seed)
    records = [r for repo in repositories for r in github.issues[repo]]
    pulls = [r for r in records if "pull_request" in r]
    data = {
        "repositories": len(repositories), "pull_requests": len(pulls),
        "issues": len(records) - len(pulls), "kebechet_pull_requests":
        sum(r["user"]["login"] == KEBECHET for r in pulls),
        "reviewed": sum(bool(github.reviews.get((repo, r["number"]))) for repo in repositories
                        for r in github.issues[repo] if "pull_request" in r),
        "closed_or_merged": sum(r["state"] == "closed" for r in pulls),
        "comments": sum(len(c) for c in github.comment_records.values()), "seed": seed,
    }  # fmt: skip
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    runner = web.AppRunner(mi_compat.app(github, url))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    python, mi_status = await asyncio.to_thread(mi_python) if mi_sample else (None, "not asked")
    print(f"baseline mi: {mi_status}" + ("" if python else " — baseline SKIPPED"), flush=True)
    sample = repositories[:mi_sample]
    result: dict[str, Any] = {"data": data, "ours": {}, "mi": {"status": mi_status}}
    if python is not None:
        result["mi"] |= {"sample": len(sample), "parallel": mi_parallel, "runs": {}}
    try:
        with tempfile.TemporaryDirectory() as work:
            folder = Path(work)
            for run in ("first", "unchanged", "changed"):
                if run == "changed":
                    kinds, touched = change(github, repositories, size.changes, seed)
                    result["changes"] = dict(kinds)
                    result["changes_repositories"] = touched
                meter = Meter(github)
                outcomes = await ours(url, github.token, folder, repositories)
                result["ours"][run] = meter.result(len(repositories)) | {"outcomes": outcomes}
                print(f"ours, {run} run: {result['ours'][run]['seconds']} s", flush=True)
                if python is not None:
                    meter = Meter(github)
                    stored = await mi(python, url, github.token, folder, sample, mi_parallel)
                    result["mi"]["runs"][run] = meter.result(len(sample)) | {"stored": stored}
                    print(f"mi, {run} run: {result['mi']['runs'][run]['seconds']} s", flush=True)
    finally:
        await runner.cleanup()
    expected = Counter(
        "PullRequest" if "pull_request" in r else "Issue"
        for repo in sample
        for r in github.issues[repo]
    )
    result["targets"] = targets(result, size.changes) | checks(result, dict(expected))
    return result


def targets(result: dict[str, Any], changes: int) -> dict[str, dict[str, Any]]:
    unchanged, changed = result["ours"]["unchanged"], result["ours"]["changed"]
    repos = unchanged["repositories"]
    checks = {
        "unchanged: one request per repository, all 304, none charged": (
            unchanged["requests"] == repos == unchanged["not_modified"]
            and unchanged["charged"] == 0,
            f"{unchanged['requests']} requests, {unchanged['not_modified']} 304s, "
            f"{unchanged['charged']} charged for {repos} repositories",
        ),
        f"changed: requests <= repositories + 3 x {changes} changed pull requests": (
            changed["requests"] <= repos + 3 * changes,
            f"{changed['requests']} <= {repos + 3 * changes}",
        ),
    }
    mi_runs = result["mi"].get("runs", {})
    if "unchanged" in mi_runs:
        theirs = mi_runs["unchanged"]["charged_per_repository"]
        mine = unchanged["charged_per_repository"]
        checks[">= 50x fewer charged requests than mi, unchanged run"] = (
            theirs > 0 and (mine == 0 or theirs / mine >= 50),
            f"mi: {theirs} charged per repository, ours: {mine}",
        )
    return {name: {"pass": passed, "measured": text} for name, (passed, text) in checks.items()}


def checks(result: dict[str, Any], mi_expected: dict[str, int]) -> dict[str, dict[str, Any]]:
    """That the figures are complete: ours collected every repository in each run (changed
    ones counted as changed), and mi stored every pull request and issue of its sample (mi
    logs a failed request and carries on, which would make its counts look small)."""
    runs = result["ours"]
    repos = runs["first"]["repositories"]
    touched = result["changes_repositories"]
    wanted = {
        "first": {"changed": str(repos)},
        "unchanged": {"unchanged": str(repos)},
        "changed": {"changed": str(touched)}
        | ({"unchanged": str(repos - touched)} if repos > touched else {}),
    }
    found = {run: runs[run]["outcomes"] for run in wanted}
    result_checks = {
        "ours collected every repository in every run": (
            found == wanted,
            f"outcomes {found}, expected {wanted}",
        )
    }
    for run, measured in result["mi"].get("runs", {}).items():
        result_checks[f"mi stored its whole sample ({run} run)"] = (
            measured["stored"] == mi_expected,
            f"stored {measured['stored']} of {mi_expected}",
        )
    return {
        name: {"pass": passed, "measured": text} for name, (passed, text) in result_checks.items()
    }


def report(result: dict[str, Any]) -> None:
    data = result["data"]
    print_table(
        f"{data['repositories']} repositories, {data['pull_requests']} pull requests "
        f"({data['kebechet_pull_requests']} Kebechet's, {data['reviewed']} reviewed, "
        f"{data['closed_or_merged']} closed or merged), {data['issues']} issues, "
        f"{data['comments']} comments",
        ["tool", "run", "repos", "seconds", "requests", "304", "charged", "requests/repo",
         "charged/repo"],
        [
            [tool, run, r["repositories"], r["seconds"], r["requests"], r["not_modified"],
             r["charged"], r["requests_per_repository"], r["charged_per_repository"]]
            for tool, runs in (("ours", result["ours"]), ("mi", result["mi"].get("runs", {})))
            for run, r in runs.items()
        ],
    )  # fmt: skip
    for tool, runs in (("ours", result["ours"]), ("mi", result["mi"].get("runs", {}))):
        routes = sorted({route for r in runs.values() for route in r["per_route"]})
        if routes:
            print_table(f"{tool}: requests per route", ["route", *runs],
                        [[route, *(r["per_route"].get(route, 0) for r in runs.values())]
                         for route in routes])  # fmt: skip
    mi_runs = result["mi"].get("runs", {})
    if "unchanged" in mi_runs:
        theirs, mine = mi_runs["unchanged"], result["ours"]["unchanged"]
        ratio = theirs["requests_per_repository"] / max(mine["requests_per_repository"], 1e-9)
        print(f"\nunchanged run, per repository: mi: {theirs['charged_per_repository']} "
              f"charged, ours: {mine['charged_per_repository']}; requests: mi "
              f"{theirs['requests_per_repository']}, ours {mine['requests_per_repository']} "
              f"({ratio:.0f}x)")  # fmt: skip
    else:
        print(f"\nbaseline mi skipped: {result['mi']['status']}")
    print()
    for name, check in result["targets"].items():
        print(f"  {'PASS' if check['pass'] else 'FAIL'}  {name}: {check['measured']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.repo_metrics",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--short", action="store_true", help="20 repositories x 60 pull requests")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--mi-sample", type=int, default=20,
                        help="repositories mi collects (0: no baseline)")  # fmt: skip
    parser.add_argument("--mi-parallel", type=int, default=2, help="mi processes at once")
    args = parser.parse_args(argv)
    size = Size(20, 60, 6, 100) if args.short else Size(200, 300, 30, 100)
    started = time.perf_counter()
    result = asyncio.run(bench(size, args.seed, args.mi_sample, args.mi_parallel))
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["short"] = args.short
    report(result)
    print(f"\nwritten to {write_result('repo_metrics', result)} ({result['wall_seconds']} s)")
    return 0 if all(check["pass"] for check in result["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
