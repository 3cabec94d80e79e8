"""One OAuth 2 token per Dagster run, not one per step: an encrypted file shared by the run's
processes.

Under Dagster's multiprocess executor each extract step is its own process with its own
transport, and each would ask the SIS for a token: nine tokens a run, which a SIS that
rate-limits or alerts on token issuance notices. The first step to need a token fetches it and
leaves it here; the others (waiting on a file lock meanwhile) reuse it until it is due for
renewal.

Where and how: one file per run and client under the Dagster instance's storage folder
(`<storage>/passback-tokens`, 0700, files 0600), named by a hash that reveals neither the run
nor the client. The content is encrypted with Fernet (AES-128-CBC and HMAC-SHA256, from the
`cryptography` library) under a key derived by HKDF-SHA256 from the client secret, salted with
the run id: only a process holding the secret (a step of this run) can read it, and the file is
useless to a person or a backup without it. The warehouse never sees a token. Files a day old
are removed when a new one is written.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

STALE_AFTER_SECONDS = 86_400.0


@dataclass(frozen=True)
class TokenCacheDir:
    """Where one run's tokens are shared: the folder and the run id (the key's salt)."""

    folder: Path
    run_id: str


class RunTokenCache:
    """One client's token for one run, encrypted on disk; `locked` serialises its users."""

    def __init__(self, where: TokenCacheDir, token_url: str, client_id: str,
                 client_secret: str) -> None:
        self._folder = where.folder
        name = hashlib.sha256("\0".join((where.run_id, token_url, client_id)).encode())
        self._path = where.folder / f"{name.hexdigest()[:32]}.token"
        self._lock_path = self._path.with_suffix(".lock")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=where.run_id.encode(),
                   info=f"passback oauth2 token cache|{token_url}|{client_id}".encode(),
                   ).derive(client_secret.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the run's lock for this client (other processes wait) while inside."""
        self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def load(self) -> tuple[str, float] | None:
        """(token, renew_at on this process's monotonic clock) if a live token is cached."""
        try:
            plain = self._fernet.decrypt(self._path.read_bytes())
            entry = json.loads(plain)
            token, renew_at = str(entry["token"]), float(entry["renew_at"])
        except (OSError, InvalidToken, ValueError, KeyError, TypeError):
            return None  # none yet, written with another secret, or damaged: fetch afresh
        left = renew_at - time.time()
        return (token, time.monotonic() + left) if left > 0 else None

    def store(self, token: str, renew_at: float) -> None:
        """Cache `token` until `renew_at` (this process's monotonic clock)."""
        wall = time.time() + (renew_at - time.monotonic())
        data = self._fernet.encrypt(json.dumps({"token": token, "renew_at": wall}).encode())
        temporary = self._path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, self._path)
        self._prune()

    def drop(self, token: str) -> None:
        """Forget the cached token if it is `token` (the SIS refused it)."""
        cached = self.load()
        if cached is not None and cached[0] == token:
            self._path.unlink(missing_ok=True)

    def _prune(self) -> None:
        horizon = time.time() - STALE_AFTER_SECONDS
        for path in self._folder.glob("*.token"):
            try:
                if path.stat().st_mtime < horizon:
                    path.unlink(missing_ok=True)
                    path.with_suffix(".lock").unlink(missing_ok=True)
            except OSError:
                continue
