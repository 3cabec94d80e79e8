"""`passback demo`, and the wiring of a generated district to a sandbox SIS that the demo,
the tests and the benchmarks share."""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import sys
from pathlib import Path

import yaml

from pipeline.config import project_root
from tooling.generate.command import add_planted_share
from tooling.generate.mapping import env_prefix
from tooling.sandbox import SandboxCredentials

DEMO_DIR = project_root() / ".passback" / "demo"
DEMO_PORT = 8765


def port_holder(port: int) -> str | None:
    """Which process listens on a loopback TCP port ("pid 123: python -m tooling.sandbox ..."),
    as far as /proc tells this user; None when it cannot say."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            listening = len(fields) > 9 and fields[3] == "0A"  # TCP state LISTEN
            if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                return f"pid {proc.name}: {command[:120]}"
        except OSError:
            continue
    return None


def port_in_use(port: int) -> bool:
    """Whether something already listens on 127.0.0.1:`port`. SO_REUSEADDR as the sandbox
    binds: connections of a demo that just ended (TIME_WAIT) do not make the port busy."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def free_port() -> int:
    """A loopback port free right now, picked by the OS."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def point_at_sandbox(mapping_file: Path, url: str, token_url: str, *,
                     requests_per_second: float | None = None,
                     concurrency: int | None = None) -> str:
    """Aim a generated district file at a running sandbox (its budget is the demo district's,
    sized for loopback, unless given); returns the district id."""
    data = yaml.safe_load(mapping_file.read_text())
    data["sis"]["base_url"] = f"{url}/ims/oneroster"
    if data["sis"]["auth"]["kind"] == "oauth2":
        data["sis"]["auth"]["token_url"] = token_url
    if requests_per_second is not None:
        data["sis"]["budget"]["max_requests_per_second"] = requests_per_second
    if concurrency is not None:
        data["sis"]["budget"]["max_concurrency"] = concurrency
    mapping_file.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(data["district"])


def sandbox_environment(district: str, credentials: SandboxCredentials) -> dict[str, str]:
    """The sandbox's credentials under the variable names a generated district file uses."""
    prefix = env_prefix(district)
    names = {"CLIENT_ID": credentials.client_id, "CLIENT_SECRET": credentials.client_secret,
             "KEY": credentials.oauth1_key, "SECRET": credentials.oauth1_secret,
             "VENDOR_KEY": credentials.vendor_key, "VENDOR_SECRET": credentials.vendor_secret}
    return {f"{prefix}_{suffix}": value for suffix, value in names.items()}


def write_dev_env(out: Path, values: dict[str, str]) -> Path:
    """`dev.env` in the demo folder: what `make dev` exports to show the demo district (its
    mappings folder and the sandbox's demo credentials), owner-only (0600)."""
    path = out / "dev.env"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(f"{name}={shlex.quote(value)}\n" for name, value in values.items())
    os.chmod(path, 0o600)
    return path


def _demo(args: argparse.Namespace) -> int:
    """Generate a district, serve it from the sandbox, and `passback run` it end to end."""
    from passback.commands import run_command
    from tooling.generate import generate_district
    from tooling.sandbox import SandboxSIS

    out = Path(args.out)
    if args.port and port_in_use(args.port):
        # Never a silent move to another port: the district file would point at a port that
        # dies with the demo, and the next run would re-send every grade.
        holder = port_holder(args.port)
        print(f"passback demo: port {args.port} on 127.0.0.1 is in use"
              + (f" by {holder}" if holder else "")
              + "; stop that process (a sandbox started for `make dev`?) or pass --port N "
              "(0: any free port)", file=sys.stderr)
        return 2
    print(f"generating a district of {args.students} students in {out} ...")
    generated = generate_district(out, students=args.students, seed=args.seed,
                                  profile=args.profile, district="demo",
                                  planted_share=args.planted_share)
    sandbox = SandboxSIS(generated.oneroster_dir, profile=args.profile,
                         closed_grading_periods=generated.closed_grading_periods,
                         state_path=out / "sandbox-state.jsonl",
                         port=args.port)
    with sandbox:
        print(f"sandbox SIS ({args.profile}) serving on {sandbox.url}")
        point_at_sandbox(generated.mapping_file, sandbox.url, sandbox.token_url)
        os.environ.update(sandbox_environment(generated.district, sandbox.credentials))
        os.environ["PASSBACK_MAPPINGS_DIR"] = str(generated.mapping_file.parent)
        args.district, args.grading_period, args.full_refresh = generated.district, None, False
        args.as_of, args.dry_run = generated.as_of.isoformat(), False
        args.allow_mass_change = False  # the demo's first run removes nothing
        status = run_command(args)
    env_file = write_dev_env(out, {
        "PASSBACK_MAPPINGS_DIR": str(generated.mapping_file.parent),
        **sandbox_environment(generated.district, sandbox.credentials)})
    print(f"\nThe demo district is in {out}. To browse it in the Dagster UI, start its sandbox "
          f"SIS and the UI (`make dev` reads {env_file}, which the demo wrote for the demo "
          "district only; nothing to export by hand):\n"
          f"  .venv/bin/passback sandbox --data {generated.oneroster_dir} --profile "
          f"{args.profile} --state {out / 'sandbox-state.jsonl'} --port {sandbox.port} &\n"
          "  make dev")
    return status


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` sub-command."""
    demo = subparsers.add_parser(
        "demo", help="generate a district, start the sandbox SIS, run everything")
    demo.add_argument("--out", default=str(DEMO_DIR))
    demo.add_argument("--students", type=int, default=150)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--port", type=int, default=DEMO_PORT,
                      help=f"the sandbox's loopback port (default {DEMO_PORT}; 0: any free one)")
    demo.add_argument("--profile", default="infinite_campus",
                      choices=["infinite_campus", "skyward", "oneroster"])
    add_planted_share(demo)
    demo.set_defaults(func=_demo)
