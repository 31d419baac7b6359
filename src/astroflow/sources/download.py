"""Fetch a data set's files, verified by checksum, and unpack archives without letting them write outside.

Remote files come through pooch's downloaders (HTTP(S), FTP, DOI); ``file://`` URLs and plain paths
are local sources. Every file that lands in a download folder has its sha256 recorded in that folder's
``SHA256SUMS`` (the ``sha256sum -c`` format): a file without a pinned checksum is trusted on first use
and checked against that record from then on. Offline (``offline=True`` or ``ASTROFLOW_OFFLINE=1``),
or when the network fails, the error says which file to place where, so a run can go on without it.
"""
from __future__ import annotations

import bz2
import fcntl
import ftplib
import gzip
import logging
import lzma
import os
import shutil
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import pooch
import requests

from astroflow.errors import DownloadError
from astroflow.provenance import sha256_file, sha256_tree

log = logging.getLogger(__name__)

CHECKSUMS = "SHA256SUMS"
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")
ZIP_SUFFIXES = (".zip",)
RETRY_STATUS = {408, 429, 500, 502, 503, 504}
NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                  requests.exceptions.ContentDecodingError, ftplib.error_temp, ConnectionError, TimeoutError, EOFError)


def offline_mode(offline: bool = False) -> bool:
    """Offline when asked to, or when $ASTROFLOW_OFFLINE is set to 1/true/yes/on."""
    return offline or os.environ.get("ASTROFLOW_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def archive_kind(name: str | Path) -> str | None:
    """'tar' or 'zip' by file name, None for anything else."""
    name = str(name).lower()
    if name.endswith(TAR_SUFFIXES):
        return "tar"
    if name.endswith(ZIP_SUFFIXES):
        return "zip"
    return None


def read_checksums(folder: str | Path) -> dict[str, str]:
    """File name -> sha256 as recorded in ``folder/SHA256SUMS`` (empty when there is none)."""
    path = Path(folder) / CHECKSUMS
    if not path.is_file():
        return {}
    sums = {}
    for line in path.read_text().splitlines():
        digest, _, name = line.partition("  ")
        if name:
            sums[name] = digest
    return sums


def fetch(url: str, dest_dir: str | Path, sha256: str | None = None, retries: int = 3, offline: bool = False,
          progress: bool = True, backoff: float = 1.0, size: int | None = None) -> Path:
    """Put the file at ``url`` into ``dest_dir`` (verified) and return its path; a local folder is used in place.

    A file already in place with the expected checksum is not fetched again. Broken connections, server errors
    and bodies shorter than the Content-Length are retried ``retries`` times, waiting ``backoff`` seconds and
    doubling each time; so is a file of another ``size`` (bytes; the registry's) than expected. A file without a
    pinned or recorded checksum is trusted on first use only once it reads to its end (:func:`check_readable`):
    a server that closes early without a Content-Length leaves a file that is refused, not recorded.
    """
    local = local_source(url)
    if local is not None and local.is_dir():
        if sha256 and (tree := sha256_tree(local)) != sha256.lower():
            raise DownloadError(f"{local}: folder checksum is {tree}, expected {sha256.lower()}")
        return local
    if local is not None and not local.is_file():
        raise DownloadError(f"{url}: local source {local} does not exist")
    name = local.name if local is not None else url_file_name(url)
    dest_dir = Path(dest_dir)
    dest = dest_dir / name
    pinned = sha256.lower() if sha256 else None
    expected = pinned or read_checksums(dest_dir).get(name)
    found = sha256_file(dest) if dest.is_file() else None
    if found is not None and expected in (None, found):
        _record(dest_dir, name, found, pinned)
        return dest
    if found is not None:
        log.warning("%s has sha256 %s, expected %s: fetching it again from %s", dest, found, expected, url)
    if local is None and offline_mode(offline):
        raise DownloadError(_place_message(url, dest, expected, "offline mode (offline=True or ASTROFLOW_OFFLINE=1)",
                                           found))
    dest_dir.mkdir(parents=True, exist_ok=True)
    with _partial(dest_dir, name) as tmp:
        if local is not None:
            shutil.copyfile(local, tmp)
            _check_size(url, tmp, size)
        else:
            _download(url, tmp, dest, expected, retries, backoff, progress, size)
        actual = sha256_file(tmp)
        if expected is not None and actual != expected:
            what = "pinned" if pinned else f"recorded on first use in {dest_dir / CHECKSUMS}"
            raise DownloadError(f"{url}: checksum mismatch, file refused: expected sha256 {expected} ({what}), "
                                f"got {actual}")
        if expected is None:
            check_readable(tmp, name, url)
        os.replace(tmp, dest)
    _record(dest_dir, name, actual, pinned)
    return dest


def local_source(url: str) -> Path | None:
    """The local path a ``file://`` URL or a plain path names; None for a remote URL."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise DownloadError(f"{url}: file:// URLs must name a local path (host {parsed.netloc!r} given)")
        return Path(url2pathname(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and sys.platform == "win32"):
        return Path(url).expanduser()
    return None


def url_file_name(url: str) -> str:
    """The file name a URL ends in (its path's last part)."""
    name = PurePosixPath(unquote(urlparse(url).path)).name
    if not name:
        raise DownloadError(f"{url}: the URL does not end in a file name")
    return name


def _place_message(url: str, dest: Path, expected: str | None, why: str, found: str | None = None) -> str:
    checksum = f"sha256 {expected}" if expected else "no pinned sha256; it is recorded on first use"
    problem = f"; the file there has sha256 {found}, which does not match" if found else ""
    return (f"cannot download {url}: {why}{problem}. To go on without the network, download it elsewhere and "
            f"place it at {dest.resolve()} ({checksum}), then run again.")


@contextmanager
def _partial(folder: Path, name: str):
    """A temporary file next to the destination, removed unless it was moved into place."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    os.close(fd)
    try:
        yield tmp
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _check_size(url: str, path: str | Path, size: int | None) -> None:
    if size is not None and (got := os.path.getsize(path)) != size:
        raise TruncatedError(f"{url}: {got} bytes received, the registry says {size}: truncated or changed, refused")


class TruncatedError(DownloadError):
    """A file of another size than the registry's: a cut connection is retried like any network failure."""


def check_readable(path: str | Path, name: str, url: str) -> None:
    """Read a compressed file or archive (by ``name``) to its end, so that a truncated one is refused before its
    checksum is trusted on first use; plain files have no structure to check (their registry ``size`` does that)."""
    lowered = name.lower()
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(Path(lowered).suffix)
    try:
        if archive_kind(lowered) == "tar":
            with tarfile.open(path, "r:*") as tar:
                for member in tar:
                    if member.isfile():
                        tar.extractfile(member).read()
        elif archive_kind(lowered) == "zip":
            with zipfile.ZipFile(path) as zf:
                if (bad := zf.testzip()) is not None:
                    raise zipfile.BadZipFile(f"member {bad} is corrupt")
        elif opener is not None:
            with opener(path, "rb") as f:
                while f.read(1 << 20):
                    pass
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError) as err:
        raise DownloadError(f"{url}: the file does not read to its end ({err}): truncated or corrupt; refused, its "
                            "checksum is not recorded, and the next run fetches it again") from None


def _download(url: str, tmp: str, dest: Path, expected: str | None, retries: int, backoff: float,
              progress: bool, size: int | None = None) -> None:
    try:
        downloader = _downloader(url, progress)
    except ValueError as err:
        raise DownloadError(f"{url}: {err}") from None
    for attempt in range(retries + 1):
        try:
            log.info("downloading %s to %s%s", url, dest, f" (attempt {attempt + 1})" if attempt else "")
            downloader(url, tmp, None)
            _check_size(url, tmp, size)
            return
        except TruncatedError as err:
            cause = err
        except requests.HTTPError as err:
            status = err.response.status_code if err.response is not None else None
            if status not in RETRY_STATUS:
                raise DownloadError(f"{url}: the server answered {err}") from None
            cause = err
        except NETWORK_ERRORS as err:
            cause = err
        if attempt < retries:
            wait = backoff * 2**attempt
            log.warning("%s: %s; retrying in %.1f s (%d retries left)", url, cause, wait, retries - attempt)
            time.sleep(wait)
    raise DownloadError(_place_message(url, dest, expected, f"network failure after {retries + 1} attempts ({cause})"))


def _downloader(url: str, progress: bool):
    bar = (True if sys.stderr.isatty() else LogProgress(url)) if progress else False
    if urlparse(url).scheme in ("http", "https"):
        return pooch.HTTPDownloader(progressbar=bar, chunk_size=1 << 16, timeout=60)
    return pooch.choose_downloader(url, progressbar=bar)


class LogProgress:
    """A progress "bar" for pooch that writes a log line every ``every_s`` seconds, for logs that are not terminals."""

    def __init__(self, what: str, every_s: float = 10.0):
        self.what, self.every_s = what, every_s
        self.total, self.n = 0, 0
        self.start = self.last = time.monotonic()

    def update(self, n: int) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            of = f" of {self.total / 1e6:.1f} MB" if self.total else ""
            log.info("%s: %.1f MB%s (%.0f s)", self.what, self.n / 1e6, of, now - self.start)

    def reset(self) -> None:
        self.n = 0

    def close(self) -> None:
        log.info("%s: done, %.1f MB in %.1f s", self.what, self.n / 1e6, time.monotonic() - self.start)


def _record(folder: Path, name: str, digest: str, pinned: str | None) -> None:
    """Add or update ``name`` in ``folder/SHA256SUMS``; an unpinned file seen for the first time is warned about."""
    with open(folder / f".{CHECKSUMS}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sums = read_checksums(folder)
        if sums.get(name) == digest:
            return
        if pinned is None and name not in sums:
            log.warning("%s has no pinned checksum: trusting it on first use with sha256 %s (recorded in %s); pin "
                        "it in the survey registry to make the download reproducible", folder / name, digest,
                        folder / CHECKSUMS)
        sums[name] = digest
        tmp = folder / f".{CHECKSUMS}.tmp"
        tmp.write_text("".join(f"{d}  {n}\n" for n, d in sorted(sums.items())))
        os.replace(tmp, folder / CHECKSUMS)


def extract(archive: str | Path, dest_dir: str | Path) -> list[Path]:
    """Unpack a tar (.gz/.bz2/.xz) or zip archive into ``dest_dir``; return the regular files it holds there.

    Every member is checked first: absolute paths, '..' components, links that point outside
    ``dest_dir``, and device files refuse the whole archive. Members are unpacked into a temporary
    folder inside ``dest_dir`` and then renamed into place (replacing entries of the same name), so a
    refused or corrupt archive leaves ``dest_dir`` as it was.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    kind = archive_kind(archive)
    if kind is None:
        known = ", ".join(TAR_SUFFIXES + ZIP_SUFFIXES)
        raise DownloadError(f"{archive}: not an archive this can unpack (expected a name ending {known})")
    dest_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest_dir, prefix=".extract-"))
    try:
        try:
            if kind == "tar":
                with tarfile.open(archive, "r:*") as tar:
                    for member in tar.getmembers():
                        _check_tar_member(archive, member)
                    tar.extractall(staging, filter="data")
            else:
                with zipfile.ZipFile(archive) as zf:
                    for info in zf.infolist():
                        _check_zip_member(archive, info)
                    zf.extractall(staging)
        except tarfile.FilterError as err:
            raise DownloadError(f"{archive}: refused, unsafe member: {err}") from None
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError) as err:
            raise DownloadError(f"{archive}: corrupt or unreadable archive, refused ({err})") from None
        files = sorted(dest_dir / p.relative_to(staging) for p in staging.rglob("*")
                       if p.is_file() and not p.is_symlink())
        for entry in sorted(staging.iterdir()):
            target = dest_dir / entry.name
            if target.exists() or target.is_symlink():
                target.rename(staging / f".replaced-{entry.name}")
            entry.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("extracted %d files from %s into %s", len(files), archive, dest_dir)
    return files


def unsafe_path(name: str) -> str | None:
    """Why a relative path from an archive or a config would leave its folder ('absolute path', "'..'"), or None."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        return "absolute path"
    if ".." in path.parts:
        return "'..' component"
    return None


def _escapes(member_dir: PurePosixPath, target: str) -> bool:
    """Whether a link target, taken relative to the member's folder, leaves the archive root (by its text)."""
    if unsafe_path(target) == "absolute path":
        return True
    depth = len(member_dir.parts)
    for part in PurePosixPath(target).parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return True
    return False


def _check_tar_member(archive: Path, member: tarfile.TarInfo) -> None:
    problem = unsafe_path(member.name)
    if member.isdev():
        problem = "device or FIFO file"
    elif member.issym() and _escapes(PurePosixPath(member.name).parent, member.linkname):
        problem = f"symlink to {member.linkname!r} points outside the destination"
    elif member.islnk() and _escapes(PurePosixPath(), member.linkname):
        problem = f"hard link to {member.linkname!r} points outside the destination"
    if problem:
        raise DownloadError(f"{archive}: refused, member {member.name!r}: {problem}")


def _check_zip_member(archive: Path, info: zipfile.ZipInfo) -> None:
    problem = unsafe_path(info.filename)
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        problem = "symlinks in zip archives are not supported"
    if problem:
        raise DownloadError(f"{archive}: refused, member {info.filename!r}: {problem}")
