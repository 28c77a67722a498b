"""Stored files (summary photos and documents): content-addressed, written atomically.

The same bytes are stored once, under `<sha256[:2]>/<sha256>`. A file is written to a temporary
name unique to this write in the same folder and renamed into place, so two uploads of the same
bytes at once never interleave and a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StoredFile:
    """Where a file's bytes went."""

    sha256: str
    key: str
    size: int


@dataclass(frozen=True)
class FileStore:
    """A folder of content-addressed files."""

    root: Path

    def put(self, data: bytes) -> StoredFile:
        """Store bytes (once per content) and return their key."""
        digest = hashlib.sha256(data).hexdigest()
        key = f"{digest[:2]}/{digest}"
        path = self.path(key)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{digest[:8]}-", suffix=".part", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return StoredFile(sha256=digest, key=key, size=len(data))

    def path(self, key: str) -> Path:
        """The file behind a key."""
        return self.root / key
