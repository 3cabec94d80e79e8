"""The sandbox SIS: a OneRoster 1.1/1.2 provider that behaves like Infinite Campus and Skyward.

Data engineers point the pipeline at it before production; the test suite uses
it over real HTTP on loopback. See docs/sandbox.md.
"""

from pipeline.sandbox.auth import SandboxCredentials
from pipeline.sandbox.faults import FaultSpec
from pipeline.sandbox.server import SandboxSIS

__all__ = ["FaultSpec", "SandboxCredentials", "SandboxSIS"]
