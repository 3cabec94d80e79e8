"""Wiring a generated district to a sandbox SIS: for `passback demo`, tests and benchmarks."""

from __future__ import annotations

import socket
from pathlib import Path

import yaml

from pipeline.generate.mapping import env_prefix
from pipeline.sandbox import SandboxCredentials


def free_port(preferred: int = 0) -> int:
    """`preferred` if it is free on loopback, else (or when 0) a free port the OS picks."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def point_at_sandbox(mapping_file: Path, url: str, token_url: str, *,
                     requests_per_second: float = 2000, concurrency: int | None = None) -> str:
    """Aim a generated district file at a running sandbox, with a loopback-sized budget
    (a production SIS keeps its district's own budget); returns the district id."""
    data = yaml.safe_load(mapping_file.read_text())
    data["sis"]["base_url"] = f"{url}/ims/oneroster"
    if data["sis"]["auth"]["kind"] == "oauth2":
        data["sis"]["auth"]["token_url"] = token_url
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
