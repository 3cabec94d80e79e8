"""`passback sandbox`: serve a sandbox SIS from the command line."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from tooling.sandbox.auth import SandboxCredentials
from tooling.sandbox.faults import FaultSpec
from tooling.sandbox.profiles import PROFILES


def register(subparsers: Any) -> None:
    """Add the `sandbox` sub-command to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "sandbox", help="serve a OneRoster 1.1/1.2 sandbox SIS on loopback",
        description="Serve a district from a OneRoster 1.1 CSV bundle over OneRoster 1.1 and "
                    "1.2 REST, behaving like Infinite Campus or Skyward. Credentials default "
                    "to demo values or the PASSBACK_SANDBOX_* environment variables.")
    parser.add_argument("--data", type=Path, required=True, help="OneRoster 1.1 CSV bundle dir")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="oneroster")
    parser.add_argument("--closed-grading-periods", default="",
                        help="comma-separated gradingPeriod sourcedIds whose window is closed")
    parser.add_argument("--faults", default="",
                        help="e.g. seed=7,latency_ms=20,error_rate=0.1,rps=50,max_concurrency=5,"
                             "token_ttl_s=60,drop_rate=0.02")
    parser.add_argument("--no-bulk", action="store_true",
                        help="do not serve the OneRoster 1.2 bulk POSTs (405 / 404, as a SIS "
                             "without them)")
    parser.add_argument("--allocate-ids", action="store_true",
                        help="bulk POSTs allocate the sandbox's own sourcedIds")
    parser.add_argument("--state", type=Path, default=None,
                        help="journal file that keeps gradebook writes across restarts")
    for flag in ("oauth1-key", "oauth1-secret", "client-id", "client-secret", "vendor-key",
                 "vendor-secret"):
        parser.add_argument(f"--{flag}", default=None)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the sandbox and serve until interrupted; returns the exit code."""
    # Imported here so `passback --help` does not pay for uvicorn and the spec files.
    from tooling.sandbox.server import SandboxSIS

    try:
        faults = FaultSpec.parse(args.faults)
    except ValueError as error:
        print(f"passback sandbox: {error}", file=sys.stderr)
        return 2
    credentials = SandboxCredentials.from_env(
        oauth1_key=args.oauth1_key, oauth1_secret=args.oauth1_secret,
        client_id=args.client_id, client_secret=args.client_secret,
        vendor_key=args.vendor_key, vendor_secret=args.vendor_secret)
    closed = [gp.strip() for gp in args.closed_grading_periods.split(",") if gp.strip()]
    try:
        sis = SandboxSIS(args.data, profile=args.profile, closed_grading_periods=closed,
                         faults=faults, state_path=args.state, credentials=credentials,
                         host=args.host, port=args.port, bulk_writes=not args.no_bulk,
                         allocate_ids=args.allocate_ids)
    except (OSError, ValueError) as error:
        print(f"passback sandbox: {error}", file=sys.stderr)
        return 2
    # Secrets are never printed: the operator already has them.
    print(f"sandbox SIS ({sis.profile.name}) serving {args.data}\n"
          f"  OneRoster 1.1:           {sis.v1p1_url}\n"
          f"  OneRoster 1.2 rostering: {sis.rostering_url}\n"
          f"  OneRoster 1.2 gradebook: {sis.gradebook_url}\n"
          f"  OAuth 2 token URL:       {sis.token_url}\n"
          f"  OAuth 2 client id:       {credentials.client_id}\n"
          f"  OAuth 1 key:             {credentials.oauth1_key}\n"
          f"  faults:                  {faults.to_text() or 'none'}\n"
          f"  1.2 bulk POSTs:          {'off' if args.no_bulk else 'on'}"
          f"{', allocating sourcedIds' if args.allocate_ids else ''}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sis.serve_forever()
    return 0
