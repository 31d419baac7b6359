"""Downloads and archive extraction, against a local HTTP server on 127.0.0.1 (never the internet)."""
import gzip
import hashlib
import io
import logging
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from astroflow.errors import DownloadError
from astroflow.sources.download import extract, fetch, read_checksums

DATA = b"time,mag,err\n" + b"".join(b"%d.5,17.%03d,0.02\n" % (i, i % 1000) for i in range(20000))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Server:
    """Serves ``files`` (name -> bytes); the first ``drops`` requests are cut off halfway through the body; without
    ``send_length`` no Content-Length is sent (the body ends when the connection closes, as HTTP/1.0 allows)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.drops = 0
        self.send_length = True
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                if server.send_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.drops > 0:
                    server.drops -= 1
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"


@pytest.fixture
def server():
    s = Server()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def leftovers(folder):
    """Anything but finished files and the checksum record: partial downloads, staging folders."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and not p.name.startswith(".SHA256SUMS"))


def test_fetch_verifies_and_records(server, tmp_path):
    server.files["lc.csv"] = DATA
    path = fetch(server.url("lc.csv"), tmp_path, sha256=sha(DATA))
    assert path == tmp_path / "lc.csv" and path.read_bytes() == DATA
    assert read_checksums(tmp_path) == {"lc.csv": sha(DATA)}
    assert fetch(server.url("lc.csv"), tmp_path, sha256=sha(DATA).upper()) == path
    assert len(server.requests) == 1, "a verified file in place is not fetched again"
    assert leftovers(tmp_path) == []


def test_checksum_mismatch_is_refused(server, tmp_path):
    server.files["lc.csv"] = DATA
    wrong = sha(b"something else")
    with pytest.raises(DownloadError) as err:
        fetch(server.url("lc.csv"), tmp_path, sha256=wrong, retries=0)
    msg = str(err.value)
    assert server.url("lc.csv") in msg and wrong in msg and sha(DATA) in msg
    assert not (tmp_path / "lc.csv").exists() and leftovers(tmp_path) == []
    assert read_checksums(tmp_path) == {}


def test_broken_connection_is_retried(server, tmp_path, caplog):
    server.files["lc.csv"] = DATA
    server.drops = 2
    with caplog.at_level(logging.WARNING, logger="astroflow"):
        path = fetch(server.url("lc.csv"), tmp_path, sha256=sha(DATA), retries=3, backoff=0.01)
    assert path.read_bytes() == DATA
    assert len(server.requests) == 3
    assert sum("retrying" in r.message for r in caplog.records) == 2
    assert leftovers(tmp_path) == []


def test_network_failure_says_where_to_place_the_file(server, tmp_path):
    server.files["lc.csv"] = DATA
    server.drops = 10
    with pytest.raises(DownloadError) as err:
        fetch(server.url("lc.csv"), tmp_path, sha256=sha(DATA), retries=1, backoff=0.01)
    msg = str(err.value)
    assert "network failure after 2 attempts" in msg
    assert str((tmp_path / "lc.csv").resolve()) in msg and sha(DATA) in msg
    assert len(server.requests) == 2 and leftovers(tmp_path) == []


def test_http_error_is_not_retried(server, tmp_path):
    with pytest.raises(DownloadError, match="404"):
        fetch(server.url("missing.csv"), tmp_path, retries=3, backoff=0.01)
    assert len(server.requests) == 1


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_offline_names_the_destination(server, tmp_path, monkeypatch, how):
    server.files["lc.csv"] = DATA
    if how == "environment":
        monkeypatch.setenv("ASTROFLOW_OFFLINE", "1")
    with pytest.raises(DownloadError) as err:
        fetch(server.url("lc.csv"), tmp_path / "raw", sha256=sha(DATA), offline=how == "argument")
    msg = str(err.value)
    assert "offline" in msg and str((tmp_path / "raw" / "lc.csv").resolve()) in msg and sha(DATA) in msg
    assert server.requests == []


def test_offline_uses_a_file_placed_by_hand(server, tmp_path):
    (tmp_path / "lc.csv").write_bytes(DATA)
    assert fetch(server.url("lc.csv"), tmp_path, sha256=sha(DATA), offline=True) == tmp_path / "lc.csv"
    (tmp_path / "lc.csv").write_bytes(DATA[:100])
    with pytest.raises(DownloadError, match="does not match"):
        fetch(server.url("lc.csv"), tmp_path, sha256=sha(DATA), offline=True)
    assert server.requests == []


def test_unpinned_file_is_trusted_on_first_use_then_checked(server, tmp_path, caplog):
    server.files["lc.csv"] = DATA
    with caplog.at_level(logging.WARNING, logger="astroflow"):
        fetch(server.url("lc.csv"), tmp_path)
    assert any("no pinned checksum" in r.message and sha(DATA) in r.message for r in caplog.records)
    assert read_checksums(tmp_path) == {"lc.csv": sha(DATA)}
    (tmp_path / "lc.csv").unlink()
    server.files["lc.csv"] = DATA + b"1.0,18.0,0.1\n"
    with pytest.raises(DownloadError, match="recorded on first use"):
        fetch(server.url("lc.csv"), tmp_path, retries=0)
    assert not (tmp_path / "lc.csv").exists()


def test_truncated_first_use_without_content_length_is_not_trusted(server, tmp_path):
    packed = gzip.compress(DATA)
    server.files["lc.csv.gz"] = packed
    server.send_length, server.drops = False, 1
    with pytest.raises(DownloadError, match="does not read to its end.*not recorded"):
        fetch(server.url("lc.csv.gz"), tmp_path, retries=0)
    assert read_checksums(tmp_path) == {} and not (tmp_path / "lc.csv.gz").exists() and leftovers(tmp_path) == []
    assert fetch(server.url("lc.csv.gz"), tmp_path, retries=0).read_bytes() == packed  # fetched again, whole
    assert read_checksums(tmp_path) == {"lc.csv.gz": sha(packed)}


@pytest.mark.parametrize("archive", ["lc.tar.gz", "lc.zip", "lc.csv.bz2", "lc.csv.xz"])
def test_truncated_archives_are_refused_on_first_use(server, tmp_path, archive):
    import bz2
    import lzma

    if archive.endswith(".tar.gz"):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            info = tarfile.TarInfo("lc.csv")
            info.size = len(DATA)
            tar.addfile(info, io.BytesIO(DATA))
        body = buffer.getvalue()
    elif archive.endswith(".zip"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("lc.csv", DATA)
        body = buffer.getvalue()
    else:
        body = (bz2 if archive.endswith("bz2") else lzma).compress(DATA)
    server.files[archive] = body
    server.send_length, server.drops = False, 1
    with pytest.raises(DownloadError, match="truncated"):
        fetch(server.url(archive), tmp_path, retries=0)
    assert read_checksums(tmp_path) == {}


def test_registry_size_catches_a_truncated_plain_file(server, tmp_path, caplog):
    server.files["lc.csv"] = DATA
    server.send_length, server.drops = False, 1
    with caplog.at_level(logging.WARNING, logger="astroflow"):
        path = fetch(server.url("lc.csv"), tmp_path, size=len(DATA), retries=2, backoff=0.01)
    assert path.read_bytes() == DATA and len(server.requests) == 2  # the short body was retried
    assert any("registry says" in r.message for r in caplog.records)
    server.drops = 5
    with pytest.raises(DownloadError, match=f"registry says {len(DATA)}"):
        fetch(server.url("lc.csv"), tmp_path / "again", size=len(DATA), retries=1, backoff=0.01)
    assert read_checksums(tmp_path / "again") == {}


def test_short_body_against_its_content_length_is_not_trusted(server, tmp_path):
    server.files["lc.csv"] = DATA
    server.drops = 5
    with pytest.raises(DownloadError, match="network failure"):
        fetch(server.url("lc.csv"), tmp_path, retries=1, backoff=0.01)
    assert read_checksums(tmp_path) == {} and not (tmp_path / "lc.csv").exists()


def test_local_sources(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "lc.csv").write_bytes(DATA)
    for url in ((src / "lc.csv").as_uri(), str(src / "lc.csv")):
        out = tmp_path / "out"
        assert fetch(url, out, sha256=sha(DATA), offline=True).read_bytes() == DATA
        (out / "lc.csv").unlink()
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch((src / "lc.csv").as_uri(), tmp_path / "out", sha256=sha(b"x"))
    assert not (tmp_path / "out" / "lc.csv").exists()
    assert fetch(src.as_uri(), tmp_path / "out") == src, "a local folder is used in place"
    with pytest.raises(DownloadError, match="folder checksum"):
        fetch(str(src), tmp_path / "out", sha256=sha(DATA))
    with pytest.raises(DownloadError, match="does not exist"):
        fetch((src / "nope.csv").as_uri(), tmp_path / "out")


def make_tar(path, members, mode="w:gz"):
    """members: (name, kind, payload) with kind 'file' (payload bytes), 'dir', 'sym' or 'hard' (payload target)."""
    with tarfile.open(path, mode) as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
                         "chr": tarfile.CHRTYPE}[kind]
            info.linkname = payload or ""
            tar.addfile(info)
    return path


def test_extract_good_archives(tmp_path):
    archive = make_tar(tmp_path / "lcs.tar.gz", [("lcs", "dir", None), ("lcs/a.dat", "file", b"1 2 3\n"),
                                                 ("lcs/sub/b.dat", "file", b"4 5 6\n"),
                                                 ("lcs/link.dat", "sym", "a.dat")])
    dest = tmp_path / "raw"
    files = extract(archive, dest)
    assert files == [dest / "lcs" / "a.dat", dest / "lcs" / "sub" / "b.dat"]
    assert (dest / "lcs" / "link.dat").read_bytes() == b"1 2 3\n"
    assert extract(archive, dest) == files, "extracting again replaces what is there"
    with zipfile.ZipFile(tmp_path / "lcs.zip", "w") as zf:
        zf.writestr("z/c.dat", b"7 8 9\n")
    assert extract(tmp_path / "lcs.zip", dest) == [dest / "z" / "c.dat"]
    assert extract(archive, archive.parent) == [tmp_path / "lcs" / "a.dat", tmp_path / "lcs" / "sub" / "b.dat"]
    assert leftovers(dest) == [] and leftovers(tmp_path) == []


@pytest.mark.parametrize("members, problem", [
    ([("ok.dat", "file", b"1"), ("../evil.dat", "file", b"x")], "'..' component"),
    ([("/tmp/evil.dat", "file", b"x")], "absolute path"),
    ([("link", "sym", "../../evil.dat")], "points outside"),
    ([("link", "sym", "/etc/passwd")], "points outside"),
    ([("hard", "hard", "../evil.dat")], "points outside"),
    ([("dev", "chr", None)], "device"),
    # each link lies inside by its text, but together they lead out: the extraction-time check refuses it
    ([("sub", "dir", None), ("sub/up", "sym", ".."), ("sub/out", "sym", "up/.."), ("sub/out/evil.dat", "file", b"x")],
     "unsafe member"),
])
def test_extract_refuses_unsafe_members(tmp_path, members, problem):
    archive = make_tar(tmp_path / "bad.tar", members, mode="w")
    dest = tmp_path / "a" / "b" / "raw"
    dest.mkdir(parents=True)
    (dest / "keep.txt").write_text("here before")
    with pytest.raises(DownloadError, match=problem) as err:
        extract(archive, dest)
    assert str(archive) in str(err.value)
    assert sorted(p.name for p in dest.iterdir()) == ["keep.txt"], "a refused archive leaves the folder as it was"
    assert not list(tmp_path.rglob("evil.dat"))


def test_extract_refuses_unsafe_zip(tmp_path):
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr("../evil.dat", b"x")
    with pytest.raises(DownloadError, match="'..' component"):
        extract(tmp_path / "bad.zip", tmp_path / "raw")
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(DownloadError, match="symlinks"):
        extract(tmp_path / "link.zip", tmp_path / "raw")


def test_extract_refuses_corrupt_archives(tmp_path):
    good = make_tar(tmp_path / "good.tar.gz", [(f"lc{i}.dat", "file", DATA) for i in range(3)])
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"PK\x03\x04 this is not a zip file")
    with zipfile.ZipFile(tmp_path / "crc.zip", "w") as zf:
        zf.writestr("lc.dat", DATA)
    crc = bytearray((tmp_path / "crc.zip").read_bytes())
    crc[100] ^= 0xFF  # inside the stored member's data
    (tmp_path / "crc.zip").write_bytes(bytes(crc))
    for bad in (truncated, garbage, tmp_path / "crc.zip"):
        dest = tmp_path / f"out-{bad.name}"
        with pytest.raises(DownloadError, match="corrupt") as err:
            extract(bad, dest)
        assert str(bad) in str(err.value)
        assert list(dest.iterdir()) == []
    with pytest.raises(DownloadError, match="not an archive"):
        extract(tmp_path / "lc.csv", tmp_path / "out")
