"""What a PostgreSQL catalog's failures mean, said without its password.

A catalog URL may carry a password (given to :class:`~nbassets.store.postgres_catalog.
PostgresCatalog` by a caller; never from ``pyproject.toml``, which refuses one): every
message, and the catalog's ``location``, names the URL without it (:func:`redact`).
psycopg's and the server's failures become the nbassets error that says what to do: the
server unreachable, authentication failed, the database missing, no privilege, a lock held
past the busy timeout, a read-only server, a full disk, a newer or damaged catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import (
    CatalogDamagedError,
    CatalogLocked,
    NbAssetsError,
    ReadOnlyError,
    StorageError,
    StoreFull,
)


def has_password(url: str) -> bool:
    """Whether ``url`` writes a password (``user:pw@host`` or ``?password=``)."""
    parts = urlsplit(url)
    return parts.password is not None or any(
        name == "password" for name, _ in parse_qsl(parts.query, keep_blank_values=True)
    )


def redact(url: str) -> str:
    """``url`` without its password (``postgresql://alice@db:5432/nbassets``)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}@{host}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment))


class CatalogUnreachable(StorageError):
    """The PostgreSQL server of a catalog cannot be reached (down, wrong host or port)."""

    def __init__(self, location: str, detail: str) -> None:
        self.path = location
        super().__init__(
            f"cannot reach the PostgreSQL catalog {location}: {detail}. Nothing was written. "
            "Check that the server is running and that host and port are right (`pg_isready "
            "-d URL`), then retry; the catalog is `prod_catalog` in [tool.nbassets]."
        )


class CatalogAuthFailed(StorageError):
    """The PostgreSQL server refused the catalog's user (no or wrong password, no such role)."""

    def __init__(self, location: str, detail: str) -> None:
        self.path = location
        super().__init__(
            f"the PostgreSQL server refused to log in to the catalog {location}: {detail}. "
            "Give the password through PGPASSWORD or a line of ~/.pgpass "
            "(host:port:database:user:password, chmod 600), never in pyproject.toml; check "
            "the user name in prod_catalog and the server's pg_hba.conf."
        )


class CatalogDatabaseMissing(StorageError):
    """The catalog's database does not exist on its server."""

    def __init__(self, location: str, database: str) -> None:
        self.path = location
        super().__init__(
            f"the database {database!r} of the catalog {location} does not exist on its "
            f"server. Create it once (`createdb {database}`, or CREATE DATABASE {database} as "
            "a user who may), or fix prod_catalog in [tool.nbassets]; nbassets creates its "
            "tables in it on the first build."
        )


class CatalogPermissionDenied(StorageError):
    """The catalog's user lacks a privilege the catalog needs."""

    def __init__(self, location: str, action: str, detail: str) -> None:
        self.path = location
        super().__init__(
            f"permission denied: the user of the catalog {location} may not {action} it "
            f"({detail}). Nothing was written. A reader needs USAGE on schema nbassets and "
            "SELECT on its tables; a builder also INSERT, UPDATE on nbassets.incidents and "
            "USAGE on its sequences; the first build needs CREATE on the database. Ask the "
            "database's owner to GRANT them."
        )


class PostgresCatalogDamaged(CatalogDamagedError):
    """The database's ``nbassets`` schema is not an nbassets catalog (or lost a table)."""

    def __init__(self, location: str, detail: str) -> None:
        self.path = location
        self.detail = detail
        NbAssetsError.__init__(
            self,
            f"the catalog {location} is damaged ({detail}); nbassets will not repair or "
            "replace it silently. Look at it with `psql URL -c '\\dt nbassets.*'`; restore "
            "the schema nbassets from a backup, or point prod_catalog at another database "
            "and copy production there (`nbassets migrate-store`).",
        )


def database_of(location: str) -> str:
    return urlsplit(location).path.lstrip("/") or "(the user's default)"


def translate(exc: Exception, location: str, action: str) -> NbAssetsError | None:
    """The nbassets error for psycopg's ``exc`` met while ``action``-ing the catalog, if any."""
    import psycopg

    if not isinstance(exc, psycopg.Error):
        return None
    text = str(exc).strip()
    detail = text.splitlines()[0] if text else type(exc).__name__
    code = exc.sqlstate or ""
    lowered = text.lower()
    if (
        code in ("28P01", "28000")
        or "password" in lowered
        or "pg_hba.conf" in lowered
        or ("role" in lowered and "does not exist" in lowered)
    ):
        return CatalogAuthFailed(location, detail.removeprefix("connection failed: "))
    if code == "3D000" or ("database" in lowered and "does not exist" in lowered):
        return CatalogDatabaseMissing(location, database_of(location))
    if code == "25006":
        return ReadOnlyError(
            f"the catalog {location} refused a write: the session or the server is read-only "
            f"({detail}). A notebook reads production read-only; builds write through a "
            "primary server."
        )
    if code == "42501":
        return CatalogPermissionDenied(location, action, detail)
    if code == "55P03":
        return CatalogLocked(location, _timeout())
    if code == "53100":
        return StoreFull(location)
    if code in ("42P01", "42703"):
        return PostgresCatalogDamaged(location, f"a table or column is missing: {detail}")
    if isinstance(exc, psycopg.OperationalError) and (not code or code.startswith(("08", "57"))):
        return CatalogUnreachable(location, detail.removeprefix("connection failed: "))
    return StorageError(
        f"the PostgreSQL catalog {location} failed to {action}: {detail} (SQLSTATE "
        f"{code or 'none'}). The transaction was rolled back: nothing was recorded; retry."
    )


def _timeout() -> float:
    from .sqlite_file import busy_timeout

    return busy_timeout()


@contextmanager
def translated(location: str, action: str) -> Iterator[None]:
    """Turn psycopg's errors into the precise nbassets error for the catalog ``location``."""
    try:
        yield
    except NbAssetsError:
        raise
    except Exception as exc:
        precise = translate(exc, location, action)
        if precise is None:
            raise
        raise precise from None  # psycopg's own message may quote the URL given, password too
