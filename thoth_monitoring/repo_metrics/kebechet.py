"""Which Kebechet manager opened a pull request (or issue), and what kind it is, from its title.

The titles are Kebechet's own templates (thoth-station/kebechet, every version since 2018, read
at 691cf9e). Kebechet looks its pull requests and issues up by exact title, so the templates
are stable identifiers. A title that matches none counts as manager ``unknown``, kind ``other``,
never dropped: a new Kebechet release shows up in the numbers before this table learns it.
"""

import re

UNKNOWN = ("unknown", "other")

# (manager, kind, pattern): the pattern must match the whole title.
TEMPLATES: tuple[tuple[str, str, str], ...] = (
    # update manager, pull requests
    ("update", "dependency", r"Automatic update of dependency \S+ from \S+ to \S+"),  # ≤ 2020
    ("update", "dependencies", r"Automatic update of dependencies by [Kk]ebechet\.?"),
    ("update", "dependencies", r"Automatic update of dependencies by Kebechet for the .+ environment"),
    ("update", "relock", r"Automatic dependency re-locking"),  # until 2021-12
    ("update", "initial-lock", r"Initial dependency lock"),
    # update manager, issues it opens when it cannot do its work
    ("update", "update-failed", r"Failed to update dependencies to their latest version( for .+ environment)?"),
    ("update", "initial-lock-failed", r"Failed to perform initial lock of software stack( for .+ environment)?"),
    ("update", "replication-failed", r"Failed to replicate environment for updates( in .+ environment)?"),
    ("update", "no-dependency-management", r"No dependency management found( for the .+ environment)?"),
    ("update", "overlay-uninitialised", r"Uninitialized Overlay Dir \(.+\)"),
    # version manager
    ("version", "release", r"Release of version .+"),
    ("version", "no-version", r"No version identifier found in sources to perform a release"),
    ("version", "multiple-versions", r"Multiple version identifiers found in sources to perform a new release\."),
    ("version", "no-maintainers", r"No release maintainers stated for this repository"),
    ("version", "invalid-label-config", r"\.thoth\.yaml PR label release configuration is invalid"),
    # thoth-advise manager: a lock file advised by Thoth for a runtime environment
    ("thoth-advise", "advise", r"Auto generated update"),
    # thoth-provenance manager (issues only)
    ("thoth-provenance", "provenance", r"[0-9a-f]{10} - \d+: Automated kebechet thoth-provenance Issue"),
    ("thoth-provenance", "missing-pipenv-files", r"Missing pipenv files"),
    # pipfile-requirements manager
    ("pipfile-requirements", "requirements-sync", r"Syncing requirements\.txt using Pipfile(\.lock)?"),
    ("pipfile-requirements", "requirements-sync", r"Update requirements\.txt respecting requirements in Pipfile(\.lock)?"),
    ("pipfile-requirements", "no-pipfile", r"Kebechet Pipfile Requirements Manager: no .+ found in repo"),
    # info manager: answers a "Kebechet info" issue a user opens
    ("info", "info", r"Kebechet info"),
    # the configuration initialiser
    ("config-initializer", "initial-config", r"Thoth Configuration Initialization"),
)  # fmt: skip

MANAGERS = tuple(dict.fromkeys(manager for manager, _, _ in TEMPLATES))

_COMPILED = tuple((manager, kind, re.compile(pattern)) for manager, kind, pattern in TEMPLATES)


def classify(title: str) -> tuple[str, str]:
    """(manager, kind) of a title Kebechet wrote; ``UNKNOWN`` when no template matches."""
    text = title.strip()
    for manager, kind, pattern in _COMPILED:
        if pattern.fullmatch(text):
            return manager, kind
    return UNKNOWN
