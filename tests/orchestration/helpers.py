"""Names the orchestration tests share: the district id and the generated district on its
sandbox. Fixtures live in conftest.py; tests import names from here, never from a conftest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tooling.generate import GeneratedDistrict
from tooling.sandbox import SandboxSIS

# The committed mappings name the district "demo", and the district partitions are read
# when the code location is imported; the generated district uses the same id.
DISTRICT = "demo"


@dataclass
class District:
    """A generated district and the sandbox serving it."""

    generated: GeneratedDistrict
    sis: SandboxSIS
    warehouse: Path
