"""Checkpoint download against a local HTTP server on 127.0.0.1: resume, sha256, range-less servers."""
import hashlib
import http.server
import re
import threading

import pytest

from seal_ros.models.fetch import FetchError, fetch

BLOB = bytes((i * 7919 + 13) % 251 for i in range(300_000))
SHA = hashlib.sha256(BLOB).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    honour_range = True
    cut_after = None  # close the connection after this many body bytes (once)
    log = []

    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):
        rng = self.headers.get("Range")
        type(self).log.append(rng)
        if self.path != "/blob.bin":
            self.send_error(404)
            return
        start = 0
        m = re.match(r"bytes=(\d+)-$", rng or "")
        if m and self.honour_range:
            start = int(m.group(1))
            if start >= len(BLOB):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(BLOB)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}")
        else:
            self.send_response(200)
        body = BLOB[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = type(self).cut_after
        if cut is not None:
            type(self).cut_after = None
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    Handler.honour_range, Handler.cut_after, Handler.log = True, None, []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_fresh_download_checks_sha(server, tmp_path):
    dest = fetch(f"{server}/blob.bin", tmp_path / "m.pt", len(BLOB), SHA)
    assert dest.read_bytes() == BLOB and not (tmp_path / "m.pt.part").exists()
    assert Handler.log == [None]


def test_resume_after_interrupted_download_asks_only_for_the_rest(server, tmp_path):
    dest = tmp_path / "m.pt"
    with pytest.raises(FetchError, match="resume"):
        fetch(f"{server}/blob.bin", dest, len(BLOB), SHA, max_bytes=100_000)
    part = tmp_path / "m.pt.part"
    assert part.stat().st_size == 100_000 and not dest.exists()
    seen = []
    fetch(f"{server}/blob.bin", dest, len(BLOB), SHA, progress=lambda d, t: seen.append((d, t)))
    assert dest.read_bytes() == BLOB
    assert Handler.log[-1] == "bytes=100000-"
    assert seen[0][0] > 100_000 and seen[-1] == (len(BLOB), len(BLOB))


def test_server_closing_early_leaves_a_resumable_part(server, tmp_path):
    Handler.cut_after = 50_000
    dest = tmp_path / "m.pt"
    with pytest.raises(FetchError, match="run again"):
        fetch(f"{server}/blob.bin", dest, None, SHA)  # size unknown: Content-Length tells
    assert (tmp_path / "m.pt.part").stat().st_size == 50_000
    fetch(f"{server}/blob.bin", dest, None, SHA)
    assert dest.read_bytes() == BLOB and Handler.log[-1] == "bytes=50000-"


def test_server_without_range_support_restarts(server, tmp_path):
    Handler.honour_range = False
    (tmp_path / "m.pt.part").write_bytes(b"stale" * 10)
    fetch(f"{server}/blob.bin", tmp_path / "m.pt", len(BLOB), SHA)
    assert (tmp_path / "m.pt").read_bytes() == BLOB


def test_complete_part_is_finished_without_download(server, tmp_path):
    (tmp_path / "m.pt.part").write_bytes(BLOB)
    fetch(f"{server}/blob.bin", tmp_path / "m.pt", len(BLOB), SHA)
    assert Handler.log == [] and (tmp_path / "m.pt").read_bytes() == BLOB
    (tmp_path / "n.pt.part").write_bytes(BLOB)  # size unknown: the server's 416 says it is complete
    fetch(f"{server}/blob.bin", tmp_path / "n.pt", None, SHA)
    assert Handler.log == [f"bytes={len(BLOB)}-"] and (tmp_path / "n.pt").read_bytes() == BLOB


def test_sha_mismatch_is_rejected_and_nothing_is_left(server, tmp_path):
    with pytest.raises(FetchError, match="sha256"):
        fetch(f"{server}/blob.bin", tmp_path / "m.pt", len(BLOB), "0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_part_fails_sha_then_clean_retry_succeeds(server, tmp_path):
    (tmp_path / "m.pt.part").write_bytes(b"\xff" * 1000)  # wrong prefix: resumed file is wrong
    with pytest.raises(FetchError, match="sha256"):
        fetch(f"{server}/blob.bin", tmp_path / "m.pt", len(BLOB), SHA)
    assert not (tmp_path / "m.pt.part").exists() and not (tmp_path / "m.pt").exists()
    fetch(f"{server}/blob.bin", tmp_path / "m.pt", len(BLOB), SHA)
    assert (tmp_path / "m.pt").read_bytes() == BLOB


def test_http_error_and_unreachable(server, tmp_path):
    with pytest.raises(FetchError, match="404"):
        fetch(f"{server}/nope.bin", tmp_path / "x")
    with pytest.raises(FetchError):
        fetch("http://127.0.0.1:9/blob.bin", tmp_path / "y", timeout_s=2)
