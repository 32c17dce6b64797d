"""Fetch the published LHCO files from Zenodo when they are missing (docs/data.md).

Downloads stream into a temporary file next to the destination, are checked (byte count against
``Content-Length``, MD5 when known) and only then renamed into place, so a failed or interrupted
download never leaves a partial file and never replaces a good one.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

from anode_cathode import __version__
from anode_cathode.data.io import atomic_path

__all__ = ["DownloadError", "fetch", "md5sum"]

logger = logging.getLogger(__name__)


class DownloadError(RuntimeError):
    """The file could not be fetched (offline, DNS, refused, HTTP error, truncated transfer)."""


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    """Hex MD5 digest of the file at ``path``, read in blocks of ``chunk`` bytes."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _normalise(md5: str | None) -> str | None:
    """Accept ``"md5:<hex>"`` (Zenodo API form) and any case."""
    if md5 is None:
        return None
    return md5.strip().lower().removeprefix("md5:")


def _how_to_fix(url: str, dest: Path) -> str:
    return (
        f"Fix: download it by hand (e.g. curl -L -o '{dest}' '{url}'), or set data.lhco.events / "
        "data.lhco.extra_background in the config to existing copies, or run where the network "
        "is reachable."
    )


def _stream(response: http.client.HTTPResponse, tmp: Path, url: str, progress: bool) -> str:
    """Copy the body into ``tmp``; return its MD5; fail when fewer bytes than announced arrive."""
    length = response.headers.get("Content-Length")
    expected = int(length) if length and length.isdigit() else None
    digest = hashlib.md5(usedforsecurity=False)
    received, next_report = 0, 0.1
    with open(tmp, "wb") as out:
        while block := response.read(1 << 20):
            out.write(block)
            digest.update(block)
            received += len(block)
            if progress and expected and received >= next_report * expected:
                logger.info(
                    "%s: %3.0f %% of %.1f MB", url, 100 * received / expected, expected / 1e6
                )
                next_report += 0.1
    if expected is not None and received != expected:
        raise http.client.IncompleteRead(b"", expected - received)
    return digest.hexdigest()


def fetch(
    url: str,
    dest: str | os.PathLike,
    md5: str | None = None,
    *,
    timeout: float = 60.0,
    progress: bool = False,
) -> Path:
    """Download ``url`` to ``dest`` unless a verified copy is already there.

    Parameters
    ----------
    url
        HTTP(S) address (for Zenodo: ``https://zenodo.org/records/<id>/files/<name>?download=1``).
    dest
        Target path; parent folders are created.
    md5
        Expected hex MD5 (``"md5:"`` prefix allowed). An existing ``dest`` with this checksum is
        kept without any network access; one with another checksum is downloaded again. Without
        a checksum an existing ``dest`` is trusted.
    timeout
        Seconds to wait for the connection and for each read.
    progress
        Log progress every 10 % (needs ``Content-Length``).

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DownloadError
        The server could not be reached, answered with an HTTP error or closed the connection
        early; the message says how to provide the file instead.
    ValueError
        The downloaded bytes do not have the expected MD5; nothing is written to ``dest``.
    """
    dest = Path(dest)
    want = _normalise(md5)
    if dest.is_file():
        if want is None:
            logger.info("%s exists (no checksum given); not downloading", dest)
            return dest
        have = md5sum(dest)
        if have == want:
            logger.info("%s exists with the expected MD5; not downloading", dest)
            return dest
        logger.warning("%s has MD5 %s, expected %s; downloading again", dest, have, want)

    request = urllib.request.Request(url, headers={"User-Agent": f"anode-cathode/{__version__}"})
    logger.info("downloading %s to %s", url, dest)
    with atomic_path(dest) as tmp:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                got = _stream(response, tmp, url, progress)
        except urllib.error.HTTPError as err:
            err.close()  # the error carries the open response
            raise DownloadError(
                f"cannot download {url} to {dest}: HTTP {err.code} {err.reason}. "
                + _how_to_fix(url, dest)
            ) from err
        except urllib.error.URLError as err:
            raise DownloadError(
                f"cannot download {url} to {dest}: {err.reason} (offline, unknown host or "
                "connection refused?). " + _how_to_fix(url, dest)
            ) from err
        except http.client.IncompleteRead as err:
            raise DownloadError(
                f"cannot download {url} to {dest}: transfer interrupted, {err.expected} bytes "
                "missing. " + _how_to_fix(url, dest)
            ) from err
        except (http.client.HTTPException, OSError) as err:  # resets, timeouts mid-transfer
            raise DownloadError(
                f"cannot download {url} to {dest}: {type(err).__name__}: {err}. "
                + _how_to_fix(url, dest)
            ) from err
        if want is not None and got != want:
            raise ValueError(
                f"checksum mismatch for {url}: expected MD5 {want}, got {got}; {dest} was not "
                "written (corrupted transfer or changed upstream file; retry, or check the "
                "checksum in the config)"
            )
    logger.info("wrote %s (MD5 %s)", dest, got)
    return dest
