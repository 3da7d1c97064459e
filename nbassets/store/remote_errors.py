"""What an object store's failures mean, said without its credentials or endpoint.

Credentials and endpoints come only from the standard sources (``AWS_*`` variables including
``AWS_ENDPOINT_URL``, profiles in ``~/.aws``). A URL that carries a user or password is
refused, and every message about a remote failure has the values of those variables and any
``http(s)://`` address replaced before anyone sees it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from ..errors import AssetNotFound, ConfigError, NbAssetsError, StorageError

SECRET_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)
_ADDRESS = re.compile(r"https?://[^\s\"'<>]+")
_SOURCES = (
    "credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws, "
    "the endpoint from AWS_ENDPOINT_URL or ~/.aws/config"
)


def checked_url(url: str) -> str:
    """``url`` without a trailing ``/``; one that carries credentials, a query or a fragment
    is refused (the message never repeats it: it may hold a secret)."""
    parts = urlsplit(url)
    scheme = parts.scheme or "the"
    if "://" not in url or not parts.scheme:
        raise ConfigError(
            f"an object store is named by a URL such as 's3://bucket/prefix'; got {url!r}."
        )
    if parts.username or parts.password or "@" in parts.netloc:
        raise ConfigError(
            f"the {scheme}:// URL of a store carries a user or password; credentials are never "
            f"written in a URL or in pyproject.toml: {_SOURCES}. Remove them from the URL."
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"the {scheme}:// URL of a store has a query or fragment ('?' or '#'); options and "
            f"credentials are not given in the URL: {_SOURCES}. Use 's3://bucket/prefix'."
        )
    return url.rstrip("/")


def scrubbed(text: str) -> str:
    """``text`` with the values of the credential and endpoint variables and any http(s)
    address replaced by ``***``."""
    for name in SECRET_VARIABLES:
        value = os.environ.get(name, "")
        if len(value) >= 4:
            text = text.replace(value, "***")
    return _ADDRESS.sub("***", text)


@contextmanager
def remote(what: str, url: str, *, write: bool = False) -> Iterator[None]:
    """Turn what a remote call raises into nbassets errors that say ``what`` failed and why.

    A missing object read is :class:`~nbassets.errors.AssetNotFound`; a refusal and any other
    failure (a missing bucket to ``write`` in, no credentials, no connection, a server error)
    a :class:`~nbassets.errors.StorageError` naming where the settings come from.
    """
    try:
        yield
    except NbAssetsError:
        raise
    except FileNotFoundError as exc:
        if not write:
            raise AssetNotFound(f"cannot {what}: it is missing ({scrubbed(str(exc))}).") from None
        raise StorageError(
            f"cannot {what}: {scrubbed(str(exc))} (not found). Check that the bucket of {url} "
            "exists and that the credentials in use may write it."
        ) from None
    except PermissionError as exc:
        raise StorageError(
            f"cannot {what}: access denied ({scrubbed(str(exc))}). The credentials in use may "
            f"not do this at {url}; {_SOURCES}. A notebook needs read access only."
        ) from None
    except Exception as exc:
        kind = type(exc).__name__
        raise StorageError(
            f"cannot {what}: {kind}: {scrubbed(str(exc)) or 'no detail'}. Check that the "
            f"bucket exists and is reachable and that credentials are set; {_SOURCES}."
        ) from None
