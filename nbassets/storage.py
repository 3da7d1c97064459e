"""Where a store's bytes go: immutable version files, written atomically.

A version file is written to a temporary file beside its target (``tmp-…`` is
the only kind of store file whose name contains ``tmp``), flushed, hashed,
fsynced and renamed to ``<data_version>.<ext>``; then the folder is fsynced.
The writer holds an exclusive ``flock`` on its temporary file for its whole
life, so a sweeper can tell a dead writer's leftovers (lock free) from a live
writer's (lock held) and only ever removes the former.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import xxhash

TMP_PREFIX = "tmp-"
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    """A version file once it is in place."""

    data_version: str
    path: str  # relative to the store root, POSIX separators
    bytes: int


class DataStorage(Protocol):
    """What a store needs from the place its data files live (a folder today)."""

    root: Path

    def put(self, folder: str, extension: str, write: Callable[[Path], None]) -> StoredFile: ...

    def local_path(self, relative: str) -> Path: ...

    def sweep_temporary_files(self) -> int: ...


class LocalFolder:
    """Version files under ``<root>/data/``, named by the hash of their bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def local_path(self, relative: str) -> Path:
        return self.root / relative

    def put(self, folder: str, extension: str, write: Callable[[Path], None]) -> StoredFile:
        """Write a new version with ``write(temp_path)``; nothing remains if it raises."""
        target_dir = self.root / "data" / folder
        target_dir.mkdir(parents=True, exist_ok=True)
        with _locked_temporary(target_dir, extension) as (temp, fd):
            write(temp)
            os.fsync(fd)
            size = os.fstat(fd).st_size
            data_version = _hash_file(fd)
            name = f"{data_version}.{extension}"
            final = target_dir / name
            if final.exists():
                temp.unlink()  # same bytes already stored: versions are immutable
            else:
                os.replace(temp, final)
                _fsync_dir(target_dir)
        return StoredFile(data_version, f"data/{folder}/{name}", size)

    def sweep_temporary_files(self) -> int:
        """Remove temporary files whose writer has died; return how many."""
        data = self.root / "data"
        if not data.is_dir():
            return 0
        removed = 0
        for entry in _walk_temporary(data):
            if _remove_if_orphaned(entry):
                removed += 1
        return removed


@contextmanager
def _locked_temporary(folder: Path, extension: str) -> Iterator[tuple[Path, int]]:
    while True:
        temp = folder / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}.{extension}"
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(temp))
        except FileNotFoundError:
            same = False  # a sweeper took it between our create and our lock
        if same:
            break
        os.close(fd)
    try:
        yield temp, fd
    finally:
        try:
            temp.unlink(missing_ok=True)
        finally:
            os.close(fd)


def _remove_if_orphaned(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live writer holds it
        try:
            if not os.path.samestat(os.fstat(fd), os.stat(path)):
                return False
        except FileNotFoundError:
            return False
        path.unlink()
        return True
    finally:
        os.close(fd)


def _walk_temporary(data: Path) -> Iterator[Path]:
    stack = [data]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.name.startswith(TMP_PREFIX):
                    yield Path(entry.path)


def _hash_file(fd: int) -> str:
    digest = xxhash.xxh3_128()
    offset = 0
    while chunk := os.pread(fd, _CHUNK, offset):
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
