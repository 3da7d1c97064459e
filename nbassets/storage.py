"""Where a store's bytes go: immutable version files, written atomically.

A version file is written to a temporary file beside its target (``tmp-…`` is
the only kind of store file whose name contains ``tmp``), hashed, fsynced and
renamed to ``<data_version>.<ext>``; then the folder is fsynced. When a version
with the same bytes exists already, the temporary file is dropped instead.
For a large write, a helper thread follows the writer: it hashes the bytes as
they land and starts their writeback to disk early, so hashing and the final
fsync cost little beyond the write itself.
The writer holds an exclusive ``flock`` on its temporary file for its whole
life, so a sweeper can tell a dead writer's leftovers (lock free) from a live
writer's (lock held) and only ever removes the former.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import xxhash

TMP_PREFIX = "tmp-"
_CHUNK = 1024 * 1024
_SYNC_EVERY = 16 * 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    """A version file once it is in place."""

    data_version: str
    path: str  # relative to the store root, POSIX separators
    bytes: int


class DataStorage(Protocol):
    """What a store needs from the place its data files live (a folder today)."""

    root: Path

    def put(
        self, folder: str, extension: str, write: Callable[[Path], None], large: bool = False
    ) -> StoredFile: ...

    def local_path(self, relative: str) -> Path: ...

    def sweep_temporary_files(self) -> int: ...


class LocalFolder:
    """Version files under ``<root>/data/``, named by the hash of their bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def local_path(self, relative: str) -> Path:
        return self.root / relative

    def put(
        self, folder: str, extension: str, write: Callable[[Path], None], large: bool = False
    ) -> StoredFile:
        """Write a new version with ``write(temp_path)``; nothing remains if it raises.

        ``large`` (a hint: many megabytes are coming) hashes and flushes while writing.
        """
        target_dir = self.root / "data" / folder
        target_dir.mkdir(parents=True, exist_ok=True)
        with _locked_temporary(target_dir, extension) as (temp, fd):
            hasher = _FollowingHasher(fd) if large else _FileHasher(fd)
            try:
                write(temp)
            finally:
                size, data_version = hasher.finish()
            name = f"{data_version}.{extension}"
            final = target_dir / name
            if final.exists():
                temp.unlink()  # the same bytes are stored already: versions are immutable
            else:
                os.fsync(fd)
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


class _FileHasher:
    """Hashes a complete file in chunks read into one reused buffer."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.offset = 0
        self.digest = xxhash.xxh3_128()
        self._buffer = bytearray(_CHUNK)

    def read_to_end(self) -> None:
        """Hash what was appended since the last call."""
        view = memoryview(self._buffer)
        while count := os.preadv(self.fd, [self._buffer], self.offset):
            self.digest.update(view[:count])
            self.offset += count

    def finish(self) -> tuple[int, str]:
        """``(size, hex digest)`` of the whole file."""
        self.read_to_end()
        return self.offset, self.digest.hexdigest()


class _FollowingHasher(_FileHasher):
    """Hashes a file while its writer appends to it, and starts its writeback early.

    The writer only appends (Parquet, pickle and JSON writers never seek back),
    so every byte below the current size is final when it is read.
    """

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self._written = threading.Event()
        self._synced = 0
        self._thread = threading.Thread(target=self._follow, name="nbassets-hash", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._written.wait(0.005):
            self.read_to_end()
            if self.offset - self._synced >= _SYNC_EVERY:
                os.fdatasync(self.fd)  # start writing to disk what is hashed so far
                self._synced = self.offset

    def finish(self) -> tuple[int, str]:
        self._written.set()
        self._thread.join()
        return super().finish()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
