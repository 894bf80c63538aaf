"""The shipped manifest, verification and the `seal-ros models` CLI."""
import hashlib
import http.server
import threading

import pytest
import yaml

from seal_ros.cli import main as cli_main
from seal_ros.models.manifest import ManifestError, find_manifest, load_manifest, missing_message, select
from seal_ros.models.verify import verify_entry


def test_shipped_manifest_lists_every_checkpoint():
    entries = {e.file: e for e in load_manifest(find_manifest())}
    assert {"sam_vit_b_01ec64.pth", "eventsam.pth", "seal.pt", "ViT-L-14-336px.pt"} <= set(entries)
    sam = entries["sam_vit_b_01ec64.pth"]
    assert sam.size == 375_042_383
    assert sam.sha256 == "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912"
    for e in entries.values():
        assert e.url.startswith("https://") and e.license and e.feeds


def _manifest(tmp_path, blob, url="http://127.0.0.1:9/x", sha=True, size=True):
    doc = {"models": [{"name": "tiny", "file": "tiny.pt", "url": url, "license": "MIT", "feeds": "test",
                       "size": len(blob) if size else None, "required": True,
                       "sha256": hashlib.sha256(blob).hexdigest() if sha else None},
                      {"name": "extra", "file": "extra.pt", "url": url, "license": "MIT", "feeds": "test",
                       "size": len(blob) if size else None, "required": False,
                       "sha256": hashlib.sha256(blob).hexdigest() if sha else None}]}
    p = tmp_path / "manifest.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def test_verify_states(tmp_path):
    blob = b"weights" * 100
    e, _ = load_manifest(_manifest(tmp_path, blob))
    d = tmp_path / "m"
    d.mkdir()
    assert verify_entry(e, d).state == "missing"
    (d / "tiny.pt.part").write_bytes(blob[:10])
    assert verify_entry(e, d).state == "partial"
    (d / "tiny.pt").write_bytes(blob[:-1])
    assert verify_entry(e, d).state == "size_mismatch"
    (d / "tiny.pt").write_bytes(blob[:-1] + b"!")
    assert verify_entry(e, d).state == "sha_mismatch"
    (d / "tiny.pt").write_bytes(blob)
    st = verify_entry(e, d)
    assert st.state == "ok" and st.usable
    e2, _ = load_manifest(_manifest(tmp_path, blob, sha=False))
    assert verify_entry(e2, d).state == "unverified"


@pytest.mark.parametrize("bad, needle", [
    ({"models": []}, "non-empty"),
    ({"models": [{"name": "a", "file": "a.pt"}]}, "'url'"),
    ({"models": [{"name": "a", "file": "../a.pt", "url": "u"}]}, "plain file"),
    ({"models": [{"name": "a", "file": "a.pt", "url": "u", "sha256": "xyz"}]}, "64 hex"),
    ({"models": [{"name": "a", "file": "a.pt", "url": "u", "size": -3}]}, "positive"),
    ({"models": [{"name": "a", "file": "a.pt", "url": "u"}, {"name": "a", "file": "b.pt", "url": "u"}]}, "duplicate"),
])
def test_bad_manifest(tmp_path, bad, needle):
    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump(bad))
    with pytest.raises(ManifestError, match=needle):
        load_manifest(p)


def test_select_and_missing_message():
    entries = load_manifest()
    assert [e.name for e in select(entries, ["seal"])] == ["seal"]
    assert [e.name for e in select(entries, ["seal.pt"])] == ["seal"]
    with pytest.raises(ManifestError, match="unknown"):
        select(entries, ["nope"])
    msg = missing_message(["seal.pt", "ViT-L-14-336px.pt"], "/m")
    assert "seal.pt, ViT-L-14-336px.pt" in msg and "seal-ros models fetch --dir /m" in msg


class _Blob(http.server.BaseHTTPRequestHandler):
    blob = b""

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.blob)))
        self.end_headers()
        self.wfile.write(self.blob)


def test_cli_list_fetch_verify(tmp_path, capsys):
    blob = bytes(range(256)) * 40
    _Blob.blob = blob
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Blob)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        man = _manifest(tmp_path, blob, url=f"http://127.0.0.1:{srv.server_address[1]}/tiny.pt")
        d = tmp_path / "models"
        common = ["--dir", str(d), "--manifest", str(man)]
        assert cli_main(["models", "list", *common]) == 0
        assert "missing" in capsys.readouterr().out
        assert cli_main(["models", "verify", *common]) == 1
        assert cli_main(["models", "fetch", *common]) == 0
        assert (d / "tiny.pt").read_bytes() == blob and not (d / "extra.pt").exists()  # required only
        capsys.readouterr()
        assert cli_main(["models", "verify", *common]) == 0  # the optional file may be missing
        assert "ok" in capsys.readouterr().out
        assert cli_main(["models", "fetch", *common, "--all"]) == 0
        assert (d / "extra.pt").read_bytes() == blob
        (d / "tiny.pt").write_bytes(b"corrupt")  # fetch replaces a bad file (kept aside as .bad)
        assert cli_main(["models", "fetch", *common]) == 0
        assert (d / "tiny.pt").read_bytes() == blob and (d / "tiny.pt.bad").read_bytes() == b"corrupt"
        assert cli_main(["models", "list", *common, "--name", "nope"]) == 2
    finally:
        srv.shutdown()
        srv.server_close()
