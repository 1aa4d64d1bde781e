"""``thoth-monitoring alert-receiver``: its options; the service lives in ``receiver``."""

import argparse
from pathlib import Path
from typing import Any

from thoth_monitoring.core.settings import (
    add_command,
    config_valid,
    configure,
    setting,
    usage_error,
)

DEFAULT_LISTEN = "0.0.0.0:9703"


def register(commands: Any) -> None:
    command = add_command(
        commands,
        "alert-receiver",
        help="Alertmanager webhook → one GitHub issue per alert group",
        description="Serve Alertmanager's webhook on --listen (POST /alerts) and keep exactly one "
        "GitHub issue per alert group: create, update, reopen, comment and close. Without "
        "webhook credentials it serves on a loopback address only (auth_disabled), elsewhere "
        "only with --allow-unauthenticated. With 'render PAYLOAD.json', print the issue a "
        "payload would become and exit.",
    )
    command.add_argument("action", nargs="?", choices=["render"], help="render a payload file")
    command.add_argument("payload", nargs="?", type=Path, help="Alertmanager payload (JSON)")
    setting(command, "--listen", help=f"address to serve on (default: {DEFAULT_LISTEN})")
    setting(command, "--default-repo", help="owner/name for alerts without a usable repo label")
    setting(command, "--github-url", help="GitHub API URL (GitHub Enterprise: https://HOST/api/v3)")
    setting(
        command,
        "--github-token-file",
        type=Path,
        help="file holding the token (else $GITHUB_TOKEN)",
    )
    setting(command, "--bearer-token-file", type=Path, help="token Alertmanager must send (Bearer)")
    setting(
        command,
        "--allow-unauthenticated",
        action="store_true",
        help="with no webhook credentials configured (bearer token or basic auth), accept "
        "webhooks without them on any address; otherwise the receiver refuses to start on a "
        "non-loopback --listen address (auth_disabled: true allows loopback only)",
    )
    setting(command, "--template-dir", type=Path, help="folder with title.txt.j2 and body.md.j2")
    setting(
        command,
        "--data-dir",
        type=Path,
        help="folder of the pending-notification state (SQLite: one replica only)",
    )
    setting(
        command,
        "--state-url",
        help="postgresql:// URL of the state shared by several replicas (instead of --data-dir)",
    )
    setting(command, "--replica", help="this replica's name in logs and claims (default: hostname)")
    setting(
        command, "--dry-run", action="store_true", help="log GitHub calls instead of making them"
    )
    command.set_defaults(handler=_alert_receiver)


def _alert_receiver(args: argparse.Namespace) -> int:
    from thoth_monitoring.alert_receiver.receiver import ReceiverSettings, render_file, serve
    from thoth_monitoring.core.service import run_until_stopped

    if args.action == "render":
        if args.payload is None:
            return usage_error("alert-receiver render", "give the payload file")
        print(render_file(args.payload, getattr(args, "template_dir", None)))
        return 0
    settings = configure(ReceiverSettings, args)
    if args.check_config:
        settings.github_token_value()
        return config_valid(f"issues go to {settings.default_repo} by default")
    return run_until_stopped(serve(settings))
