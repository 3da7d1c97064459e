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

Stores reach their files only through :class:`DataStorage`: :class:`LocalFolder` is
its implementation; a storage whose files are remote hands readers local copies
from a :class:`VersionCache`, verified by hash.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import xxhash

from ..errors import AssetNotFound, ObjectDamaged, StorageError
from ..policy import refuse_production_path

TMP_PREFIX = "tmp-"
_CHUNK = 1024 * 1024
_SYNC_EVERY = 16 * 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    """A version file once it is in place."""

    data_version: str
    path: str  # relative to the store root, POSIX separators
    bytes: int


Sink = Path | BinaryIO  # where a serializer writes: a path (large values) or an open file


class DataStorage(Protocol):
    """Where a store's version files live: a local folder today, an object store tomorrow.

    Files are named by the store-relative path ``put`` returns
    (``data/<key>/<data_version>.<ext>``) and are immutable: the bytes of a path
    never change once ``put`` returned it, and their xxh3-128 is the data version.
    """

    @property
    def location(self) -> str:
        """Where the files live (a folder, a bucket URL), for messages."""
        ...

    def put(
        self, folder: str, extension: str, write: Callable[[Sink], None], large: bool = False
    ) -> StoredFile:
        """Store the bytes ``write(sink)`` writes as ``data/<folder>/<their hash>.<extension>``.

        ``sink`` is an open binary file, or, when ``large`` (a hint: many megabytes are
        coming), a path to write to. Equal bytes give the same version and one file.
        If ``write`` raises, nothing is stored and the exception propagates.
        """
        ...

    def local_file(self, relative: str, data_version: str) -> Path:
        """A readable local file holding exactly the bytes of version ``data_version``.

        What DuckDB, pyarrow and the deserializers read. The file stays valid while the
        storage is open. Raises :class:`~nbassets.errors.AssetNotFound` when the storage
        holds no file at ``relative`` (never written, or removed by gc).
        """
        ...

    def exists(self, relative: str) -> bool:
        """Whether a file is stored at ``relative``."""
        ...

    def sizes(self, relatives: Iterable[str]) -> dict[str, int | None]:
        """The size in bytes of each file, ``None`` where none is stored (what status checks).

        Meant to be cheap for ten thousand files: one metadata look-up each, no reads.
        """
        ...

    def remove(self, relative: str) -> bool:
        """Remove the file at ``relative`` (for gc); False when there was none."""
        ...

    def sweep_temporary_files(self) -> int:
        """Remove what writers that died left behind; return how many files."""
        ...

    def close(self) -> None:
        """Release what the storage holds open; it may be used again afterwards."""
        ...


class LocalFolder:
    """Version files under ``<root>/data/``, named by the hash of their bytes.

    Each ``data/<key>`` folder is opened once and kept open, so a write costs no
    path lookups; a folder removed behind our back (``rm -rf`` of a sandbox) is
    noticed and created again.

    ``forbidden_root`` (a sandbox's write grant sets it to production's real path): each
    ``data/<key>`` folder's real path is checked before it is created and once it is open,
    and before a file is removed, so no link below the sandbox leads a write into production.
    Temporary and version files are created in that open folder, so they are covered too.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.forbidden_root: Path | None = None
        self._folders: dict[str, int] = {}

    @property
    def location(self) -> str:
        return str(self.root)

    def local_file(self, relative: str, data_version: str) -> Path:
        """The version file itself (not re-hashed: it is the file the version was written to)."""
        path = self.root / relative
        if not path.is_file():
            raise AssetNotFound(f"the file of data version {data_version[:12]} is missing: {path}")
        return path

    def exists(self, relative: str) -> bool:
        return (self.root / relative).is_file()

    def sizes(self, relatives: Iterable[str]) -> dict[str, int | None]:
        """One ``stat`` per file, relative to the store's open folder (no ``Path`` objects, no
        walk down the store's own path: this runs ten thousand times a status)."""
        try:
            root = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            return dict.fromkeys(relatives)
        stat = os.stat
        found: dict[str, int | None] = {}
        try:
            for relative in relatives:
                try:
                    found[relative] = stat(relative, dir_fd=root).st_size
                except (FileNotFoundError, NotADirectoryError):
                    found[relative] = None
        finally:
            os.close(root)
        return found

    def remove(self, relative: str) -> bool:
        refuse_production_path((self.root / relative).parent, self.forbidden_root)
        try:
            (self.root / relative).unlink()
        except FileNotFoundError:
            return False
        return True

    def close(self) -> None:
        for fd in self._folders.values():
            os.close(fd)
        self._folders.clear()

    def put(
        self, folder: str, extension: str, write: Callable[[Sink], None], large: bool = False
    ) -> StoredFile:
        """Write a new version with ``write(sink)``; nothing remains if it raises.

        Small values are written through the temporary file's own descriptor;
        ``large`` ones (a hint: many megabytes are coming) by path, natively,
        while a helper thread hashes and flushes behind the writer.
        """
        dir_fd = self._folder(folder)
        with _locked_temporary(dir_fd, extension) as (temp, fd):
            if large:
                hasher: _FileHasher = _FollowingHasher(fd)
                try:
                    write(self.root / "data" / folder / temp)
                finally:
                    size, data_version = hasher.finish()
            else:
                with open(fd, "wb", closefd=False) as file:
                    write(file)
                size, data_version = _FileHasher(fd).finish()
            name = f"{data_version}.{extension}"
            if _exists(name, dir_fd):
                pass  # the same bytes are stored already: versions are immutable
            else:
                os.fsync(fd)
                os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                os.fsync(dir_fd)
        return StoredFile(data_version, f"data/{folder}/{name}", size)

    def _folder(self, folder: str) -> int:
        """An open descriptor of ``data/<folder>``, created if needed."""
        fd = self._folders.get(folder)
        if fd is not None and os.fstat(fd).st_nlink > 0:
            return fd
        if fd is not None:  # removed since we opened it
            os.close(fd)
        path = self.root / "data" / folder
        refuse_production_path(path, self.forbidden_root)  # before creating anything
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        if self.forbidden_root is not None:  # the folder opened is the one checked
            try:
                refuse_production_path(path, self.forbidden_root)
                if not os.path.samestat(os.fstat(fd), os.stat(os.path.realpath(path))):
                    raise StorageError(f"{path} changed while it was opened; write again.")
            except BaseException:
                os.close(fd)
                raise
        self._folders[folder] = fd
        return fd

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


def data_version_of(data: bytes | bytearray | memoryview) -> str:
    """The data version of some bytes: their xxh3-128, as 32 hex digits."""
    return xxhash.xxh3_128_hexdigest(data)


def file_data_version(path: Path) -> tuple[int, str]:
    """``(size, data version)`` of a file's bytes, hashed in chunks."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return _FileHasher(fd).finish()
    finally:
        os.close(fd)


class VersionCache:
    """Local copies of remote version files, for storages whose files are not local.

    Entries are ``<folder>/<data_version>.<ext>``, keyed by data version alone:
    versions are immutable and named by the hash of their bytes, so an entry can
    never be stale, only damaged (a partial copy, a disk error, an edit). Each
    hand-out re-hashes the entry, and a damaged one is fetched again. A copy is
    written to a temporary file, verified and renamed into place, so readers only
    ever see complete, verified files.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def file(self, data_version: str, extension: str, fetch: Callable[[BinaryIO], None]) -> Path:
        """The cached file of ``data_version``, fetched with ``fetch(file)`` when absent or damaged.

        Raises :class:`~nbassets.errors.StorageError` when the fetched bytes are not
        that version (the remote copy itself is damaged).
        """
        path = self.folder / f"{data_version}.{extension}"
        try:
            if file_data_version(path)[1] == data_version:
                return path
        except FileNotFoundError:
            pass
        self.folder.mkdir(parents=True, exist_ok=True)
        temp = self.folder / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}.{extension}"
        try:
            with open(temp, "xb") as file:
                fetch(file)
                file.flush()
                os.fsync(file.fileno())
            got = file_data_version(temp)[1]
            if got != data_version:
                raise ObjectDamaged(
                    f"the bytes fetched for data version {data_version[:12]} hash to "
                    f"{got[:12]}: the stored file is damaged; rebuild the asset."
                )
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
        return path


@contextmanager
def _locked_temporary(dir_fd: int, extension: str) -> Iterator[tuple[str, int]]:
    """A new temporary file in the folder ``dir_fd``, exclusively locked: ``(name, fd)``."""
    while True:
        temp = f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}.{extension}"
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dir_fd)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(temp, dir_fd=dir_fd))
        except FileNotFoundError:
            same = False  # a sweeper took it between our create and our lock
        if same:
            break
        os.close(fd)
    try:
        yield temp, fd
    finally:
        try:
            os.unlink(temp, dir_fd=dir_fd)
        except FileNotFoundError:
            pass  # renamed into place
        finally:
            os.close(fd)


def _exists(name: str, dir_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    return True


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
