"""Download helper against a local HTTP server: checksums, HTTP errors, refused, truncated."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from anode_cathode.config import load_config
from anode_cathode.data.download import DownloadError, fetch, md5sum

PAYLOAD = bytes(range(256)) * 4099  # ~1 MB, more than one read block
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    """``/file`` serves PAYLOAD, ``/partial`` announces it but stops halfway; anything else 404."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        if self.path in ("/file", "/partial"):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            body = PAYLOAD if self.path == "/file" else PAYLOAD[: len(PAYLOAD) // 2]
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404, "Not Found")

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    monkeypatch.setenv("no_proxy", "*")  # never route 127.0.0.1 through a proxy from the env
    monkeypatch.setenv("NO_PROXY", "*")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _url(httpd: ThreadingHTTPServer, path: str) -> str:
    host, port = httpd.server_address[:2]
    return f"http://{host}:{port}{path}"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_md5sum(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(PAYLOAD)
    assert md5sum(path) == PAYLOAD_MD5
    assert md5sum(path, chunk=7) == PAYLOAD_MD5


def test_download_with_checksum(server: ThreadingHTTPServer, tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "events.h5"
    out = fetch(_url(server, "/file"), dest, md5="MD5:" + PAYLOAD_MD5.upper(), timeout=5)
    assert out == dest
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(dest.parent) == ["events.h5"]
    assert server.requests == ["/file"]  # type: ignore[attr-defined]


def test_download_without_checksum(server: ThreadingHTTPServer, tmp_path: Path) -> None:
    dest = tmp_path / "events.h5"
    fetch(_url(server, "/file"), dest, timeout=5, progress=True)
    assert dest.read_bytes() == PAYLOAD


def test_checksum_mismatch_leaves_nothing(server: ThreadingHTTPServer, tmp_path: Path) -> None:
    dest = tmp_path / "events.h5"
    url = _url(server, "/file")
    with pytest.raises(ValueError) as err:
        fetch(url, dest, md5="0" * 32, timeout=5)
    for part in (url, "0" * 32, PAYLOAD_MD5):
        assert part in str(err.value)
    assert _leftovers(tmp_path) == []


def test_checksum_mismatch_keeps_existing_file(server: ThreadingHTTPServer, tmp_path: Path) -> None:
    dest = tmp_path / "events.h5"
    dest.write_bytes(b"an older copy")
    with pytest.raises(ValueError, match="checksum mismatch"):
        fetch(_url(server, "/file"), dest, md5="0" * 32, timeout=5)
    assert dest.read_bytes() == b"an older copy"
    assert _leftovers(tmp_path) == ["events.h5"]
    assert server.requests == ["/file"]  # type: ignore[attr-defined]


def test_existing_good_file_skips_network(server: ThreadingHTTPServer, tmp_path: Path) -> None:
    dest = tmp_path / "events.h5"
    dest.write_bytes(PAYLOAD)
    before = dest.stat().st_mtime_ns
    assert fetch(_url(server, "/file"), dest, md5=PAYLOAD_MD5, timeout=5) == dest
    assert server.requests == []  # type: ignore[attr-defined]
    assert dest.stat().st_mtime_ns == before


def test_existing_bad_file_is_replaced(server: ThreadingHTTPServer, tmp_path: Path) -> None:
    dest = tmp_path / "events.h5"
    dest.write_bytes(b"truncated")
    fetch(_url(server, "/file"), dest, md5=PAYLOAD_MD5, timeout=5)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests == ["/file"]  # type: ignore[attr-defined]


def test_http_404(server: ThreadingHTTPServer, tmp_path: Path) -> None:
    dest = tmp_path / "events.h5"
    url = _url(server, "/missing.h5")
    with pytest.raises(DownloadError) as err:
        fetch(url, dest, timeout=5)
    msg = str(err.value)
    for part in (url, str(dest), "404", "data.lhco.events", "by hand"):
        assert part in msg
    assert _leftovers(tmp_path) == []


def test_partial_transfer(server: ThreadingHTTPServer, tmp_path: Path) -> None:
    dest = tmp_path / "events.h5"
    dest_ok = tmp_path / "kept.h5"
    dest_ok.write_bytes(b"good")
    with pytest.raises(DownloadError, match="interrupted"):
        fetch(_url(server, "/partial"), dest, timeout=5)
    with pytest.raises(DownloadError, match="interrupted"):
        fetch(_url(server, "/partial"), dest_ok, md5="0" * 32, timeout=5)
    assert _leftovers(tmp_path) == ["kept.h5"]
    assert dest_ok.read_bytes() == b"good"


def test_connection_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    with socket.socket() as sock:  # a port that was just free and now has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/events.h5"
    dest = tmp_path / "events.h5"
    with pytest.raises(DownloadError) as err:
        fetch(url, dest, timeout=5)
    msg = str(err.value)
    for part in (url, str(dest), "data.lhco.extra_background", "network"):
        assert part in msg
    assert not isinstance(err.value.__cause__, DownloadError)
    assert _leftovers(tmp_path) == []


def test_lhco_urls_and_checksums_in_config() -> None:
    lhco = load_config(None)["data"]["lhco"]
    for key in ("events", "extra_background"):
        name = lhco[key].rsplit("/", 1)[-1]
        assert lhco["urls"][key].startswith("https://zenodo.org/records/")
        assert lhco["urls"][key].endswith(f"/files/{name}?download=1")
    assert len(lhco["md5"]["events"]) == 32
