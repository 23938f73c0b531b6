"""`python -m pulumi_fwcluster.testing.emulator --port N [--provision-delay S] [--api-key K ...]`.

Prints `FIREWORKS_BASE_URL=http://127.0.0.1:PORT` on one line, then serves until SIGINT or SIGTERM.
An `--api-key` may be `KEY` (any account) or `KEY=acct1,acct2` (only those accounts).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Collection, Sequence
from types import FrameType

from .backend import Backend
from .server import serve


def _parse_keys(values: Sequence[str]) -> dict[str, Collection[str] | None]:
    keys: dict[str, Collection[str] | None] = {}
    for value in values:
        key, sep, accounts = value.partition("=")
        keys[key] = frozenset(a for a in accounts.split(",") if a) if sep else None
    return keys


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pulumi_fwcluster.testing.emulator",
        description="Serve a local emulator of the Fireworks clusters API.",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--provision-delay", type=float, default=0.5, help="seconds in CREATING")
    parser.add_argument("--delete-delay", type=float, default=0.2, help="seconds in DELETING")
    parser.add_argument(
        "--api-key",
        action="append",
        default=None,
        metavar="KEY[=ACCOUNT,...]",
        help="accepted API key, optionally limited to accounts; repeatable (default: test-key)",
    )
    args = parser.parse_args(argv)
    backend = Backend(
        provision_delay=args.provision_delay,
        delete_delay=args.delete_delay,
        api_keys=_parse_keys(args.api_key or ["test-key"]),
    )
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    with serve(backend, port=args.port) as handle:
        print(f"FIREWORKS_BASE_URL={handle.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
