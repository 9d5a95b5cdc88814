"""The key that signs tokens (and anything else the service signs), when none is configured.

A known default key would let anyone mint a token for any user id they have seen once, so
there is none: on SQLite the service generates 256 random bits once and keeps them beside the
database (a file only its owner can read), which is where everything else it needs lives; with
the in-memory backend (tests, demos) a key lives as long as the process. On PostgreSQL the
workers of many pods must agree on one key, which no pod can invent alone: the service refuses
to start and says which setting to set (``Settings.problems_for_start``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["SECRET_FILE_NAME", "generated_secret_key"]

SECRET_FILE_NAME = "todostack-secret-key"  # noqa: S105 - a file name, not a secret
_PROCESS_KEY = secrets.token_urlsafe(32)


def generated_secret_key(data_dir: Path | None) -> str:
    """The key kept in ``data_dir`` (made on first use), or one for this process without one."""
    if data_dir is None:
        return _PROCESS_KEY
    path = data_dir / SECRET_FILE_NAME
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    candidate = secrets.token_urlsafe(32)
    temp = data_dir / f".{SECRET_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(candidate + "\n")
        out.flush()
        os.fsync(out.fileno())
    try:
        # link() fails when another process made the file first: everyone then reads the winner's.
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink()
    return _read(path)


def _read(path: Path) -> str:
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable secret key (delete it to have a new one made)")
    return key
