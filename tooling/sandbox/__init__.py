"""The sandbox SIS: a OneRoster 1.1/1.2 provider that behaves like Infinite Campus and Skyward.

Data engineers point the pipeline at it before production; the test suite uses
it over real HTTP on loopback. See docs/sandbox.md.

The public names load lazily, so registering `passback sandbox` with the CLI does not import
the web server.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tooling.sandbox.auth import SandboxCredentials
    from tooling.sandbox.faults import FaultSpec
    from tooling.sandbox.server import SandboxSIS

__all__ = ["FaultSpec", "SandboxCredentials", "SandboxSIS"]
_HOMES = {"FaultSpec": "faults", "SandboxCredentials": "auth", "SandboxSIS": "server"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"tooling.sandbox.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'tooling.sandbox' has no attribute {name!r}")
