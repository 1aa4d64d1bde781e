"""Kebechet's titles, as its managers wrote them over the years, classified."""

import pytest

from thoth_monitoring.repo_metrics.kebechet import MANAGERS, UNKNOWN, classify


@pytest.mark.parametrize(
    ("title", "manager", "kind"),
    [
        (
            "Automatic update of dependency thoth-common from 0.13.6 to 0.13.7",
            "update",
            "dependency",
        ),
        ("Automatic update of dependencies by kebechet.", "update", "dependencies"),
        ("Automatic update of dependencies by Kebechet", "update", "dependencies"),
        (
            "Automatic update of dependencies by Kebechet for the default environment",
            "update",
            "dependencies",
        ),
        (
            "Automatic update of dependencies by Kebechet for the ubi8-py38 environment",
            "update",
            "dependencies",
        ),
        ("Automatic dependency re-locking", "update", "relock"),
        ("Initial dependency lock", "update", "initial-lock"),
        ("Failed to update dependencies to their latest version", "update", "update-failed"),
        (
            "Failed to update dependencies to their latest version for default environment",
            "update",
            "update-failed",
        ),
        ("Uninitialized Overlay Dir (ubi8)", "update", "overlay-uninitialised"),
        ("Release of version 1.2.3", "version", "release"),
        ("Release of version 2026.11.30", "version", "release"),
        ("No release maintainers stated for this repository", "version", "no-maintainers"),
        ("Auto generated update", "thoth-advise", "advise"),
        (
            "0123456789 - 3: Automated kebechet thoth-provenance Issue",
            "thoth-provenance",
            "provenance",
        ),
        (
            "Syncing requirements.txt using Pipfile.lock",
            "pipfile-requirements",
            "requirements-sync",
        ),
        ("Syncing requirements.txt using Pipfile", "pipfile-requirements", "requirements-sync"),
        (
            "Update requirements.txt respecting requirements in Pipfile",
            "pipfile-requirements",
            "requirements-sync",
        ),
        ("Kebechet info", "info", "info"),
        ("Thoth Configuration Initialization", "config-initializer", "initial-config"),
    ],
)
def test_every_template_is_recognised(title: str, manager: str, kind: str) -> None:
    assert classify(title) == (manager, kind)


@pytest.mark.parametrize(
    "title",
    [
        "Bump requests from 2.31.0 to 2.32.0",  # dependabot's, not Kebechet's
        "Automatic update of dependency",  # a template's prefix only
        "Release of version",
        "Re: Release of version 1.0",
        "",
    ],
)
def test_a_title_no_template_matches_is_unknown_other(title: str) -> None:
    assert classify(title) == UNKNOWN == ("unknown", "other")


def test_every_manager_of_kebechet_has_a_template() -> None:
    assert set(MANAGERS) >= {
        "update", "version", "thoth-advise", "thoth-provenance", "pipfile-requirements", "info",
    }  # fmt: skip
