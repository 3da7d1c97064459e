"""Version files as immutable objects at an fsspec URL: ``s3://bucket/prefix``, ``file://``, ``memory://``.

Object stores cannot rename, so a version is written once under its final name: the
writer's bytes go to a local temporary file, are hashed, and are uploaded as
``data/<key>/[<partition>/]<data_version>.<ext>`` (skipped when that object exists with the
same size); the caller records it in the catalog after :meth:`ObjectStorage.put` returns.
Readers get local files from a :class:`~nbassets.store.storage.VersionCache` (keyed by data
version, verified by hash on every hand-out); the uploaded temporary file becomes the writer's
cache entry, so a build reads back what it wrote without a download.

Credentials and endpoints come only from the standard sources (``AWS_*`` variables including
``AWS_ENDPOINT_URL``, ``~/.aws``), never from the URL; neither appears in :attr:`location` or
in an error (:mod:`nbassets.store.remote_errors`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from ..errors import AssetNotFound, ObjectDamaged, ReadOnlyError, StorageError
from ..policy import refuse_production_url
from .remote_errors import checked_url, remote
from .storage import TMP_PREFIX, Sink, StoredFile, VersionCache, file_data_version

_COPY_CHUNK = 8 * 1024 * 1024
_ONE_REQUEST = 16 * 1024 * 1024  # up to this size, a version is uploaded in one request
_HEAD_AT_MOST = 32  # more paths than this: one listing of data/ instead of one HEAD each
# Objects this process put (their URLs): a later read of one, by any storage of the process (a
# build reads its upstream through another store than the one that wrote it), needs no HEAD.
_UPLOADED: set[str] = set()


class ObjectStorage:
    """A store's version files as objects under ``url``, read through a local cache.

    ``cache_folder`` holds verified local copies (and the writer's temporary files).
    ``writable=False`` refuses ``put`` and ``remove``. ``production`` is production's URL:
    opening it (or a prefix below it) for writing from a process running an IPython shell
    is refused (:func:`~nbassets.policy.refuse_production_url`).
    """

    def __init__(
        self,
        url: str,
        cache_folder: Path,
        *,
        writable: bool,
        production: str | None = None,
    ) -> None:
        self.url = checked_url(url)
        if writable:
            refuse_production_url(self.url, production)
        self.writable = writable
        self.cache = VersionCache(cache_folder)
        self._fs, self._root = _filesystem(self.url)
        self._s3 = hasattr(self._fs, "call_s3") and hasattr(self._fs, "split_path")  # s3fs

    @property
    def location(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"ObjectStorage({self.url!r}, {'rw' if self.writable else 'ro'})"

    def put(
        self, folder: str, extension: str, write: Callable[[Sink], None], large: bool = False
    ) -> StoredFile:
        """Write ``write(sink)``'s bytes to a local temporary file, hash them, and upload them
        under their content-addressed name (once: an object of that name and size is kept).
        If ``write`` raises, nothing is uploaded."""
        self._refuse_read_only(f"store a version of {folder!r}")
        self.cache.folder.mkdir(parents=True, exist_ok=True)
        temp = self.cache.folder / f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}.{extension}"
        try:
            with open(temp, "xb") as file:
                if not large:
                    write(file)
            if large:
                write(temp)
            size, data_version = file_data_version(temp)
            relative = f"data/{folder}/{data_version}.{extension}"
            target = self._path(relative)
            with remote(f"store {self._where(relative)}", self.url, write=True):
                self._upload(temp, target, size)
            os.replace(temp, self.cache.folder / f"{data_version}.{extension}")
            _UPLOADED.add(self._where(relative))
        finally:
            temp.unlink(missing_ok=True)
        return StoredFile(data_version, relative, size)

    def local_file(self, relative: str, data_version: str) -> Path:
        """The cached copy of the object at ``relative``, fetched when absent or damaged.

        The object is looked up first (one HEAD), so a version removed by gc is not found
        even when a copy is cached; one this process put itself is known (a build reading
        what the builds before it wrote costs no request). A fetched copy that does not hash
        to ``data_version`` is a :class:`~nbassets.errors.ObjectDamaged` naming the object
        (nothing is cached).
        """
        where = self._where(relative)
        target = self._path(relative)
        if where in _UPLOADED:
            size: int | None = 0
        else:
            with remote(f"read {where}", self.url):
                size = self._size(target)
        if size is None:
            raise AssetNotFound(f"the file of data version {data_version[:12]} is missing: {where}")

        def fetch(file: BinaryIO) -> None:
            with remote(f"read {where}", self.url), self._fs.open(target, "rb") as source:
                shutil.copyfileobj(source, file, _COPY_CHUNK)

        extension = PurePosixPath(relative).suffix.removeprefix(".")
        try:
            return self.cache.file(data_version, extension, fetch)
        except ObjectDamaged as exc:
            raise ObjectDamaged(f"the object {where} is damaged: {exc}") from None

    def exists(self, relative: str) -> bool:
        with remote(f"look up {self._where(relative)}", self.url):
            return self._size(self._path(relative)) is not None

    def sizes(self, relatives: Iterable[str]) -> dict[str, int | None]:
        """One HEAD per object for a few; for more, one listing of ``data/`` (pages of 1,000)."""
        wanted = list(relatives)
        with remote(f"look up the objects under {self.url}/data", self.url):
            if len(wanted) <= _HEAD_AT_MOST:
                return {r: self._size(self._path(r)) for r in wanted}
            listed = self.listing()
        return {r: listed.get(r) for r in wanted}

    def remove(self, relative: str) -> bool:
        self._refuse_read_only(f"remove {relative}")
        target = self._path(relative)
        with remote(f"remove {self._where(relative)}", self.url, write=True):
            _UPLOADED.discard(self._where(relative))
            if self._size(target) is None:
                return False
            self._fs.rm_file(target)
        return True

    def sweep_temporary_files(self) -> int:
        """Nothing remote to sweep (an object appears whole or not at all); the local cache's
        temporary files of processes that no longer run are removed."""
        removed = 0
        try:
            entries = list(os.scandir(self.cache.folder))
        except FileNotFoundError:
            return 0
        for entry in entries:
            if entry.name.startswith(TMP_PREFIX) and not _running(entry.name):
                try:
                    os.unlink(entry.path)
                    removed += 1
                except FileNotFoundError:
                    pass
        return removed

    def close(self) -> None:
        """Nothing is held open (fsspec keeps its connection pool for the process)."""

    def _path(self, relative: str) -> str:
        return f"{self._root}/{relative}"

    def _where(self, relative: str) -> str:
        return f"{self.url}/{relative}"

    def _upload(self, temp: Path, target: str, size: int) -> None:
        """Upload ``temp`` as ``target`` unless an object of that name and size is there (the
        name is the hash: those bytes). On S3 a file of up to 16 MB goes in one conditional
        PUT (``If-None-Match: *``, refused when the object exists); else a HEAD, then the
        upload. A server that ignores the condition rewrites the same bytes: harmless."""
        if self._s3 and size <= _ONE_REQUEST:
            bucket, key, _ = self._fs.split_path(target)
            try:
                self._fs.call_s3(
                    "put_object", Bucket=bucket, Key=key, Body=temp.read_bytes(), IfNoneMatch="*"
                )
                return
            except FileExistsError:
                pass  # an object of that name: its size says whether it is whole
        if self._size(target) != size:
            self._fs.put_file(str(temp), target)

    def _size(self, target: str) -> int | None:
        """The size of the object ``target``, None when there is none (one HEAD on S3)."""
        try:
            if self._s3:  # info() of a missing key would list its "folder" too: a second request
                bucket, key, _ = self._fs.split_path(target)
                head = self._fs.call_s3("head_object", Bucket=bucket, Key=key)
                return int(head["ContentLength"])
            self._fs.invalidate_cache(target)  # another process may have written or removed it
            info = self._fs.info(target)
        except FileNotFoundError:
            return None
        return int(info["size"]) if info.get("type") == "file" else None

    def listing(self) -> dict[str, int]:
        """Every object below ``data/`` (store-relative) with its size: one listing."""
        data = self._path("data")
        self._fs.invalidate_cache(data)
        try:
            found = self._fs.find(data, detail=True)
        except FileNotFoundError:
            return {}
        start = len(self._root) + 1
        return {
            str(name)[start:]: int(info["size"])
            for name, info in found.items()
            if info.get("type") == "file"
        }

    def _refuse_read_only(self, what: str) -> None:
        if not self.writable:
            raise ReadOnlyError(f"{self!r} is open read-only; it cannot {what}.")


def open_object_storage(
    url: str | None, sandbox_root: Path, *, writable: bool
) -> ObjectStorage | None:
    """Production's storage when ``prod`` is the URL ``url`` (None: a folder, so None).

    Its cache is ``<sandbox_root>/.cache/<16 hex digits of the URL's SHA-256>/``: beside the
    sandboxes (git-ignored, never a store: env names do not start with a dot), one per URL,
    and naming no bucket. Opened for writing it refuses an IPython shell in the process.
    """
    if url is None:
        return None
    digest = hashlib.sha256(checked_url(url).encode()).hexdigest()[:16]
    return ObjectStorage(url, sandbox_root / ".cache" / digest, writable=writable, production=url)


def _filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path of its root in it."""
    try:
        import fsspec
    except ImportError:
        raise StorageError(
            f"{url} is an object-store URL, which needs fsspec (and s3fs for s3://): "
            "pip install 'nbassets[s3]'."
        ) from None
    options = {"auto_mkdir": True} if url.startswith("file:") else {}
    with remote(f"open {url}", url):
        fs, root = fsspec.core.url_to_fs(url, **options)
    return fs, str(root).rstrip("/")


def _running(name: str) -> bool:
    """Whether the process whose id a temporary file's name carries (``tmp-<pid>-…``) runs."""
    pid = name.removeprefix(TMP_PREFIX).split("-", 1)[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True
