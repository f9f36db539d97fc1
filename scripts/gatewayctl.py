#!/usr/bin/env python3
"""gatewayctl: try the provider gateway from the terminal, billed like the app.

    gatewayctl models                    the models on offer (and why others are not)
    gatewayctl chat PROMPT               stream a reply; prints the estimate and the charge
    gatewayctl image PROMPT              generate images into data/images/, charged per image
    gatewayctl usage                     the latest usage rows

Calls are paid by a workspace's credits on behalf of one of its members (``--workspace``,
``--user``; default: the seeded demo workspace and its member). Provider keys come from the
environment or Streamlit's secrets; with none, the offline demo models answer.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from ledger.amounts import credits_text, format_credits
from workbench.cli import Parser, positive_int, run_with_ledger
from workbench.gateway.facade import Caller, Gateway
from workbench.gateway.setup import build_gateway


def caller_for(gateway: Gateway, args: argparse.Namespace) -> Caller:
    workspace = gateway.ledger.workspace(args.workspace)
    user = gateway.ledger.user(args.user)
    return Caller(user.id, workspace.id, workspace.account_id)


def cmd_models(gateway: Gateway, args: argparse.Namespace) -> int:
    available = gateway.keys.available()
    for entry in gateway.catalogue.entries:
        offered = entry.enabled and entry.provider in available
        why = "" if offered else ("  (disabled)" if not entry.enabled else "  (no key)")
        default = " [default]" if entry.id == gateway.catalogue.default(entry.kind) else ""
        print(f"{'*' if offered else ' '} {entry.kind:5} {entry.id:32} {entry.name}{default}{why}")
    return 0


def cmd_chat(gateway: Gateway, args: argparse.Namespace) -> int:
    caller = caller_for(gateway, args)
    messages = [{"role": "user", "content": args.prompt}]
    options = {"model": args.model, "system": args.system, "max_tokens": args.max_tokens}
    estimate = gateway.estimate_chat(messages, **options)
    if estimate.notice:
        print(f"note: {estimate.notice}", file=sys.stderr)
    print(f"{estimate.model.name}: about {credits_text(estimate.credits)} held", file=sys.stderr)
    turn = gateway.chat(caller, messages, key=args.key, **options)
    for piece in turn:
        print(piece, end="", flush=True)
    print()
    result = turn.result
    assert result is not None
    print(
        f"{result.status}: {credits_text(result.credits)} for {result.usage.input_tokens:,} "
        f"tokens in and {result.usage.output_tokens:,} out"
        + (" (replayed)" if result.replayed else ""),
        file=sys.stderr,
    )
    return 0


def cmd_image(gateway: Gateway, args: argparse.Namespace) -> int:
    result = gateway.generate_images(
        caller_for(gateway, args),
        args.prompt,
        key=args.key,
        model=args.model,
        n=args.n,
        size=args.size,
        quality=args.quality,
    )
    if result.notice:
        print(f"note: {result.notice}", file=sys.stderr)
    for image in result.images:
        print(image.path)
    print(
        f"{result.status}: {credits_text(result.credits)}; {result.message or ''}", file=sys.stderr
    )
    return 0


def cmd_usage(gateway: Gateway, args: argparse.Namespace) -> int:
    workspace_id = gateway.ledger.workspace(args.workspace).id
    for row in gateway.ledger.recent_usage(workspace_id=workspace_id, limit=args.limit):
        when = row.created_at.isoformat(timespec="seconds") if row.created_at else "?"
        tokens = f"{row.input_tokens}+{row.output_tokens} tok" if not row.images else ""
        images = f"{row.images} img" if row.images else ""
        print(
            f"{when} {row.status:9} {row.model:28} {format_credits(row.credits):>10} cr "
            f"{tokens}{images}"
            f" {row.latency_ms or 0} ms {row.error_type or ''}"
        )
    return 0


def build_parser() -> Parser:
    parser = Parser(
        prog="gatewayctl", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: WORKBENCH_DATABASE_URL)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def add(name: str, handler: Callable[[Gateway, argparse.Namespace], int], text: str) -> Parser:
        command: Parser = sub.add_parser(name, help=text, description=text)
        command.set_defaults(handler=handler)
        if name != "models":
            command.add_argument("--workspace", default="demo", help="workspace slug (demo)")
        if name in ("chat", "image"):
            command.add_argument("prompt", help="what to ask for")
            command.add_argument("--user", default="member", help="username (member)")
            command.add_argument("--model", help="catalogue id (default: the catalogue's)")
            command.add_argument(
                "--key", default=f"cli-{uuid.uuid4().hex}", help="idempotency key (random)"
            )
        return command

    add("models", cmd_models, "List the models on offer (* = can be called now).")
    chat = add("chat", cmd_chat, "Stream a chat reply, billed to the workspace.")
    chat.add_argument("--system", help="system prompt")
    chat.add_argument("--max-tokens", type=positive_int, help="longest reply, in tokens")
    image = add("image", cmd_image, "Generate images, billed per image returned.")
    image.add_argument("--n", type=positive_int, default=1, help="how many (default 1)")
    image.add_argument("--size", help="e.g. 1024x1024 (default: the model's)")
    image.add_argument("--quality", help="e.g. standard or hd")
    usage = add("usage", cmd_usage, "Show a workspace's latest usage rows.")
    usage.add_argument("--limit", type=positive_int, default=20, help="rows (default 20)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_with_ledger(
        "gatewayctl",
        args.database_url,
        lambda book, config: args.handler(build_gateway(book, config), args),
    )


if __name__ == "__main__":
    sys.exit(main())
