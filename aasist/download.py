"""Resumable, verified downloads and safe archive extraction.

Public entry points, behind ``aasist download``:

- :func:`download_file`: one URL to one file, streamed to ``<dest>.part``, resumed with an
  HTTP ``Range`` request, retried with exponential backoff, checked against a SHA-256 and/or
  an MD5 and renamed into place only when complete.
- :func:`prepare_corpus`: any corpus of :mod:`aasist.data.corpora` (ASVspoof 2019 LA, 2021
  LA and DF, In-the-Wild, ASVspoof 5): every archive (zip or tar, one or many parts)
  downloaded, checked, extracted safely, the corpus checked against its own protocols, and
  marked complete with ``<corpus folder>/.aasist_complete`` so that re-running does nothing.
  :func:`prepare_zip_corpus` is the case of a corpus that comes as one zip (ASVspoof 2019
  LA, :func:`prepare_la`), which also takes an archive the user has.
- :func:`download_pretrained`: the official AASIST / AASIST-L checkpoints, SHA-256 pinned.

Interrupting any of them (Ctrl-C, a crash, a lost connection) leaves a state from which the
same call continues: a partial download is kept as ``.part`` and resumed, an extracted file is
only ever renamed into place whole, and the completion marker is written last.

Errors are raised as :class:`aasist.errors.DownloadError` (network, archive, disk) or
:class:`aasist.errors.DataError` (the extracted corpus is not what it should be), each with a
message naming the URL or file and what to do about it.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import lzma
import os
import re
import shutil
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from tqdm import tqdm

from .data.corpora import CORPORA, Archive, Corpus, get_corpus
from .errors import ConfigError, DataError, DownloadError
from .fileio import atomic_write
from .pretrained import OFFICIAL

__all__ = [
    "OFFICIAL_LA_URL",
    "OFFICIAL_LA_COUNTS",
    "COMPLETE_MARKER",
    "PRETRAINED_BASE_URL",
    "PRETRAINED_SHA256",
    "download_file",
    "file_digests",
    "safe_extract",
    "safe_extract_tar",
    "safe_extract_zip",
    "prepare_corpus",
    "prepare_la",
    "prepare_zip_corpus",
    "verify_corpus",
    "verify_la",
    "download_pretrained",
    "sha256_file",
]

#: The ASVspoof 2019 corpus on Edinburgh DataShare; ``LA.zip`` is about 7.6 GB.
OFFICIAL_LA_URL = CORPORA["la2019"].archives[0].url
#: Utterances listed in each official CM protocol.
OFFICIAL_LA_COUNTS = CORPORA["la2019"].counts
#: Written inside ``LA/`` once the extraction has been verified; its presence means "done".
COMPLETE_MARKER = ".aasist_complete"

#: Official checkpoints in the clovaai/aasist repository (MIT licence).
PRETRAINED_BASE_URL = "https://raw.githubusercontent.com/clovaai/aasist/main/models/weights/"
PRETRAINED_SHA256 = {name: ckpt.sha256 for name, ckpt in OFFICIAL.items()}  # same pins as the bundled copies

_log = logging.getLogger(__name__)

_PART_SUFFIX = ".part"
_USER_AGENT = "aasist-downloader/1.0 (+https://github.com/clovaai/aasist)"
# Transient server answers worth retrying; every other HTTP error is final.
_RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
# Errors a dropped, refused or stalled connection raises (socket.timeout is TimeoutError).
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                   TimeoutError, OSError)
# Errors zipfile raises on a damaged archive or member.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)
# Errors tarfile and the decompressors raise on a damaged archive (gzip's are OSErrors).
_TAR_ERRORS = (tarfile.TarError, zlib.error, EOFError, OSError, lzma.LZMAError)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


_HEX_LENGTHS = {"sha256": 64, "md5": 32}


def _expected_digests(**given: str | None) -> dict[str, str]:
    """``{algorithm: lower-case hex}`` of the checksums given (``sha256=``, ``md5=``)."""
    out = {}
    for name, value in given.items():
        if value is None:
            continue
        hexed = value.strip().lower()
        if not re.fullmatch(rf"[0-9a-f]{{{_HEX_LENGTHS[name]}}}", hexed):
            raise DownloadError(f"invalid {name.upper().replace('SHA', 'SHA-')} {value!r}: expected "
                                f"{_HEX_LENGTHS[name]} hexadecimal characters")
        out[name] = hexed
    return out


def file_digests(path: str | os.PathLike, algorithms: Iterable[str] = ("sha256",), *,
                 progress: bool = False, chunk_size: int = 1 << 20) -> dict[str, str]:
    """``{algorithm: hex digest}`` of the file at ``path``, all computed in one read."""
    path = Path(path)
    digests = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as f, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                     unit_divisor=1024, desc=f"verify {path.name}",
                                     disable=not progress, leave=False) as bar:
        while chunk := f.read(chunk_size):
            for digest in digests.values():
                digest.update(chunk)
            bar.update(len(chunk))
    return {name: digest.hexdigest() for name, digest in digests.items()}


def sha256_file(path: str | os.PathLike, *, progress: bool = False) -> str:
    """Return the hex SHA-256 of the file at ``path``."""
    return file_digests(path, ("sha256",), progress=progress)["sha256"]


def _digests_match(path: Path, expected: Mapping[str, str], progress: bool = False) -> bool:
    return file_digests(path, expected, progress=progress) == dict(expected)


def _mismatch(source: str, expected: Mapping[str, str], actual: Mapping[str, str]) -> str:
    """What differs, for a checksum mismatch message."""
    wrong = [k for k in expected if actual[k] != expected[k]]
    return "; ".join(f"{k.upper().replace('SHA', 'SHA-')} mismatch for {source}: expected "
                     f"{expected[k]}, got {actual[k]}" for k in wrong)


def _existing_dir(path: Path) -> Path:
    """The nearest existing ancestor of ``path`` (for disk-usage queries)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_free_space(directory: Path, needed: int, what: str) -> None:
    free = shutil.disk_usage(_existing_dir(directory)).free
    if needed > free:
        raise DownloadError(
            f"not enough free disk space in {directory} for {what}: need {_human(needed)}, "
            f"only {_human(free)} free; free some space or choose another destination")


def _write_chunk(out, chunk: bytes, path: Path, then: str) -> None:
    """Write ``chunk`` to ``out``; a failed write (usually a full disk) becomes a one-line error."""
    try:
        out.write(chunk)
    except OSError as err:
        raise DownloadError(f"could not write {path}: {err.strerror or err} (is the disk full?); "
                            f"free some space and {then}") from None


def _describe(err: BaseException) -> str:
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        reason = err.reason
        return f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) \
            else str(reason)
    if isinstance(err, TimeoutError):
        return "connection stalled (socket timeout)"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """``bytes 100-199/1000`` -> (100, 1000); ``bytes */1000`` -> (None, 1000)."""
    if not value:
        return None, None
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value)
    if not m:
        return None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    total = int(m.group(2)) if m.group(2) != "*" else None
    return start, total


def _content_length(headers) -> int | None:
    value = headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class _Transient(Exception):
    """A failure worth retrying (dropped connection, stall, 5xx)."""


# --------------------------------------------------------------------------------------------
# download_file
# --------------------------------------------------------------------------------------------

def _after_http_error(err: urllib.error.HTTPError, url: str, part: Path, offset: int,
                      expected: Mapping[str, str]) -> str:
    """The outcome of an HTTP error answer: "complete" or "restart" (a 416 on a resumed
    download), else :class:`_Transient` (worth retrying) or :class:`DownloadError`."""
    with contextlib.closing(err):
        if err.code == 416 and offset:
            # Nothing left after `offset`: the .part is already whole, or it is longer
            # than the file (a different file changed under the same URL).
            _, total = _parse_content_range(err.headers.get("Content-Range"))
            if total is not None:
                return "complete" if total == offset else "restart"
            return "complete" if expected and _digests_match(part, expected) else "restart"
        if err.code in _RETRYABLE_STATUS:
            raise _Transient(f"HTTP {err.code} {err.reason}") from None
        raise DownloadError(f"download failed: HTTP {err.code} {err.reason} for {url}; "
                            "check the URL (or the mirror it points to)") from None


def _body_range(response, offset: int, url: str) -> tuple[int, int | None, str] | None:
    """(offset, total size or None, file mode) for a response body, or None when the
    server sent a range we did not ask for (start over cleanly)."""
    length = _content_length(response.headers)
    if response.status == 206:
        start, total = _parse_content_range(response.headers.get("Content-Range"))
        if start is not None and start != offset:
            return None
        if total is None and length is not None:
            total = offset + length
        return offset, total, "ab"
    if response.status == 200:  # a fresh download, or a server that ignores Range
        return 0, length, "wb"
    raise DownloadError(f"download failed: unexpected HTTP {response.status} for {url}")


def _stream_body(response, part: Path, mode: str, offset: int, total: int | None, *,
                 chunk_size: int, progress: bool, desc: str) -> int:
    """Append (or write) the response body to ``part``; returns the bytes written."""
    written = 0
    with tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
              desc=desc, disable=not progress, dynamic_ncols=True) as bar, \
            open(part, mode) as out:
        while True:
            try:
                chunk = response.read(chunk_size)
            except _NETWORK_ERRORS as err:
                raise _Transient(_describe(err)) from None
            if not chunk:
                return written
            _write_chunk(out, chunk, part, "run again to resume")
            written += len(chunk)
            bar.update(len(chunk))


def _attempt(url: str, part: Path, expected: Mapping[str, str], *, timeout: float,
             chunk_size: int, progress: bool, desc: str) -> str:
    """One HTTP request, appending to (or restarting) ``part``.

    Returns ``"complete"`` when ``part`` holds the whole file, ``"restart"`` when ``part`` must
    be discarded and fetched again from zero. Raises :class:`_Transient` for failures worth
    retrying and :class:`DownloadError` for final ones.
    """
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT,
                                                   "Accept-Encoding": "identity"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        return _after_http_error(err, url, part, offset, expected)
    except ValueError as err:  # malformed URL
        raise DownloadError(f"invalid URL {url!r}: {err}") from None
    except _NETWORK_ERRORS as err:
        raise _Transient(_describe(err)) from None

    with response:
        plan = _body_range(response, offset, url)
        if plan is None:
            return "restart"
        offset, total, mode = plan
        if total is not None:
            _check_free_space(part.parent, total - offset, f"{url} (saving to {part})")
        size = offset + _stream_body(response, part, mode, offset, total, chunk_size=chunk_size,
                                     progress=progress, desc=desc)
    if total is not None and size < total:
        raise _Transient(f"connection closed after {size} of {total} bytes")
    return "restart" if total is not None and size > total else "complete"


def _fetch_part(url: str, part: Path, expected: Mapping[str, str], *, retries: int,
                backoff: float, max_backoff: float, timeout: float, chunk_size: int,
                progress: bool, desc: str) -> None:
    """Bring ``part`` to the whole file: attempts, retries with backoff, restarts."""
    failures = restarts = 0
    best = part.stat().st_size if part.exists() else 0
    while True:
        try:
            outcome = _attempt(url, part, expected, timeout=timeout, chunk_size=chunk_size,
                               progress=progress, desc=desc)
        except _Transient as err:
            size = part.stat().st_size if part.exists() else 0
            if size > best:  # progress was made: a fresh set of retries
                best, failures = size, 0
            failures += 1
            if failures > retries:
                kept = (f"; {_human(size)} kept in {part}, run the same command again to "
                        "resume") if size else ""
                raise DownloadError(f"download of {url} failed after {failures} attempts: "
                                    f"{err}{kept}") from None
            wait = min(max_backoff, backoff * 2 ** (failures - 1))
            _log.info("%s: %s; retry %d/%d in %.1f s", url, err, failures, retries, wait)
            time.sleep(wait)
            continue
        if outcome == "complete":
            return
        _log.info("%s: discarding %s and starting again from zero", url, part)
        part.unlink(missing_ok=True)
        best = 0
        restarts += 1
        if restarts > 2:
            raise DownloadError(f"download of {url} keeps changing size or ignoring the "
                                "requested byte range; try again later")


def download_file(url: str, dest: str | os.PathLike, sha256: str | None = None, *,
                  md5: str | None = None, retries: int = 5, backoff: float = 1.0,
                  max_backoff: float = 60.0, timeout: float = 60.0, chunk_size: int = 1 << 20,
                  progress: bool = True, desc: str | None = None) -> Path:
    """Download ``url`` to ``dest`` (resumable, retried, optionally checksum verified).

    Data is streamed to ``<dest>.part``; an existing ``.part`` is resumed with an HTTP
    ``Range`` request (a server that answers 200 instead of 206 makes it restart cleanly from
    zero; a 416 means the ``.part`` is already whole, or stale and fetched again). Dropped
    connections, short reads, stalls longer than ``timeout`` seconds and 408/429/5xx answers
    are retried up to ``retries`` times in a row, waiting ``backoff * 2**k`` seconds (at most
    ``max_backoff``); any attempt that gets further than all before it resets the count.
    ``dest`` appears, by an atomic rename, only once the file is complete and (when
    ``sha256`` and/or ``md5`` is given) verified. An existing ``dest`` is kept as it is when
    it has the expected checksums (or none is given), so calling this again downloads nothing.

    Raises:
        DownloadError: HTTP 404 or another final HTTP error (with the URL and status), the
            network still failing after the retries (the ``.part`` is kept for the next run),
            not enough free disk space, or a checksum mismatch (the bad file is removed).
    """
    dest = Path(dest)
    expected = _expected_digests(sha256=sha256, md5=md5)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        if not expected or _digests_match(dest, expected, progress):
            return dest
        dest.unlink()  # a stale or damaged copy: fetch it again

    part = dest.with_name(dest.name + _PART_SUFFIX)
    _fetch_part(url, part, expected, retries=retries, backoff=backoff, max_backoff=max_backoff,
                timeout=timeout, chunk_size=chunk_size, progress=progress,
                desc=desc or dest.name)
    if expected:
        actual = file_digests(part, expected, progress=progress)
        if actual != expected:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{_mismatch(url, expected, actual)}; the corrupt download "
                                f"was removed ({part}). Run again to download it afresh, or "
                                "check the expected checksum")
    os.replace(part, dest)
    return dest


# --------------------------------------------------------------------------------------------
# Safe extraction: zip and tar (plain, gzip, bzip2, xz)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Member:
    """An archive member that passed the safety checks: where it goes, how big it is."""

    name: str
    parts: tuple[str, ...]
    size: int
    is_dir: bool
    handle: Any  # ZipInfo or TarInfo


def _safe_parts(name: str, archive: Path) -> tuple[str, ...]:
    """Path components of a member relative to the destination; DownloadError if absolute
    or escaping it (``..``)."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        raise DownloadError(f"refusing to extract {archive}: member {name!r} has an absolute "
                            "path; nothing was extracted")
    parts = tuple(p for p in norm.split("/") if p not in ("", "."))
    if ".." in parts:
        raise DownloadError(f"refusing to extract {archive}: member {name!r} would land "
                            "outside the destination; nothing was extracted")
    return parts


def _refuse_link(archive: Path, name: str, kind: str = "a symbolic link") -> DownloadError:
    return DownloadError(f"refusing to extract {archive}: member {name!r} is {kind}; nothing "
                         "was extracted")


def _corrupt(archive: Path, name: str, err: BaseException, what: str) -> DownloadError:
    return DownloadError(f"{archive} is corrupt: member {name} {what} ({err}); delete the "
                         "archive and download it again")


def _copy_stream(src, out, target: Path, bar) -> None:
    """Copy ``src`` to ``out`` (``target``'s temporary file) in 1 MiB chunks."""
    while True:
        chunk = src.read(1 << 20)
        if not chunk:
            return
        _write_chunk(out, chunk, target, "run again")
        bar.update(len(chunk))


def _extract_members(archive: Path, dest: Path, members: list[_Member], open_member,
                     read_errors: tuple, *, progress: bool, skip_existing: bool) -> list[str]:
    """Write checked ``members`` under ``dest``: each file to a temporary name beside its
    target, renamed into place once read whole (and, for zip, its CRC checked).

    Files are not fsynced one by one (a corpus archive holds ~100k files): the caller syncs
    once before it writes its completion marker, and a resumed extraction re-checks sizes.
    """
    todo = []
    for member in members:
        target = dest.joinpath(*member.parts)
        if (skip_existing and not member.is_dir and target.is_file()
                and target.stat().st_size == member.size):
            continue
        todo.append((member, target))
    needed = sum(m.size for m, _ in todo if not m.is_dir)
    _check_free_space(dest, needed, f"extracting {archive}")
    dest.mkdir(parents=True, exist_ok=True)
    with tqdm(total=needed, unit="B", unit_scale=True, unit_divisor=1024,
              desc=f"extract {archive.name}", disable=not progress, dynamic_ncols=True) as bar:
        for member, target in todo:
            if member.is_dir:
                target.mkdir(parents=True, exist_ok=True)
                continue
            try:
                src = open_member(member.handle)
            except read_errors as err:  # a bad local header, a missing member ...
                raise _corrupt(archive, member.name, err, "could not be read") from None
            except RuntimeError as err:  # an encrypted zip member
                raise DownloadError(f"cannot extract {member.name} from {archive}: {err}") from None
            with src, atomic_write(target, "wb", durable=False) as out:
                try:
                    _copy_stream(src, out, target, bar)
                except read_errors as err:
                    raise _corrupt(archive, member.name, err, "failed its integrity check") from None
    return [m.name for m in members]


def _open_zip(zip_path: Path) -> zipfile.ZipFile:
    if not zip_path.is_file():
        raise DownloadError(f"archive not found: {zip_path}")
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise DownloadError(
            f"{zip_path} is not a readable zip archive ({err}); it is corrupt or incomplete: "
            "delete it and download it again") from None


def _zip_members(zf: zipfile.ZipFile, zip_path: Path) -> list[_Member]:
    members = []
    for info in zf.infolist():
        if ((info.external_attr >> 16) & 0o170000) == 0o120000:
            raise _refuse_link(zip_path, info.filename)
        parts = _safe_parts(info.filename, zip_path)
        if parts:
            members.append(_Member(info.filename, parts, info.file_size, info.is_dir(), info))
    return members


def safe_extract_zip(zip_path: str | os.PathLike, dest: str | os.PathLike, *,
                     progress: bool = True, skip_existing: bool = False) -> list[str]:
    """Extract ``zip_path`` into ``dest``, refusing anything that could escape it.

    Every member is checked before anything is written: ``..`` components, absolute paths,
    drive letters and symbolic links (zip external attributes) make the whole archive refused.
    The total uncompressed size is checked against the free space. Each file is written to a
    temporary name and renamed into place only after zipfile has verified its CRC, so a file
    that exists under its real name is whole. With ``skip_existing`` a file already present
    with the member's size is not written again (a resumed extraction). Note that an
    extraction being finished is signalled by the caller's own marker
    (see :func:`prepare_la`), never by the presence of files.

    Returns the member names (directories included).

    Raises:
        DownloadError: the archive is missing, corrupt (bad CRC, truncated, unreadable), holds
            an unsafe member, or does not fit on the disk.
    """
    zip_path, dest = Path(zip_path), Path(dest)
    with _open_zip(zip_path) as zf:
        return _extract_members(zip_path, dest, _zip_members(zf, zip_path), zf.open, _ZIP_ERRORS,
                                progress=progress, skip_existing=skip_existing)


def _tar_members(tar_path: Path) -> list[_Member]:
    """Every member, checked, after reading the archive to its very end: that is where a
    gzip (bz2, xz) stream's checksum is verified, so damage is found before extraction."""
    try:
        with tarfile.open(tar_path, "r:*") as tf:
            infos = tf.getmembers()
            while tf.fileobj.read(1 << 20):
                pass
    except _TAR_ERRORS as err:
        reason = " ".join(str(err).split())  # tarfile lists each method it tried, one a line
        raise DownloadError(f"{tar_path} is not a readable tar archive ({reason}); it is "
                            "corrupt or incomplete: delete it and download it again") from None
    members = []
    for info in infos:
        if info.issym() or info.islnk():
            raise _refuse_link(tar_path, info.name, "a link")
        if not (info.isfile() or info.isdir()):
            raise _refuse_link(tar_path, info.name, "a device, pipe or other special file")
        parts = _safe_parts(info.name, tar_path)
        if parts:
            members.append(_Member(info.name, parts, info.size, info.isdir(), info))
    return members


def safe_extract_tar(tar_path: str | os.PathLike, dest: str | os.PathLike, *,
                     progress: bool = True, skip_existing: bool = False) -> list[str]:
    """Extract a tar archive (plain or gzip/bzip2/xz compressed) safely into ``dest``.

    Like :func:`safe_extract_zip`: the whole archive is read and every member checked
    (absolute paths, ``..``, links, devices) before anything is written, then each file is
    renamed into place whole. A compressed archive is thereby decompressed twice; the first
    pass verifies its checksum, so a damaged download writes nothing.
    """
    tar_path, dest = Path(tar_path), Path(dest)
    if not tar_path.is_file():
        raise DownloadError(f"archive not found: {tar_path}")
    members = _tar_members(tar_path)
    with tarfile.open(tar_path, "r:*") as tf:
        return _extract_members(tar_path, dest, members, tf.extractfile, _TAR_ERRORS,
                                progress=progress, skip_existing=skip_existing)


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike, *, progress: bool = True,
                 skip_existing: bool = False) -> list[str]:
    """:func:`safe_extract_zip` or :func:`safe_extract_tar`, whichever the file is."""
    archive = Path(archive)
    extract = safe_extract_zip if zipfile.is_zipfile(archive) else safe_extract_tar
    return extract(archive, dest, progress=progress, skip_existing=skip_existing)


# --------------------------------------------------------------------------------------------
# ASVspoof 2019 LA
# --------------------------------------------------------------------------------------------

def _audio_stems(directory: Path, ext: str) -> set[str]:
    if not directory.is_dir():
        return set()
    with os.scandir(directory) as it:
        return {e.name[:-len(ext)] for e in it if e.name.endswith(ext)}


def _missing_audio_error(root: Path, lost: list[str], what: str) -> DataError:
    """The corpus at ``root`` lacks the audio of ``lost`` (paths relative to ``root``)."""
    shown = ", ".join(lost[:5])
    more = f" and {len(lost) - 5} more" if len(lost) > 5 else ""
    return DataError(f"the dataset at {root} is incomplete: {len(lost)} utterance(s) listed in "
                     f"the {what} have no audio file: {shown}{more}; re-run the download with "
                     "--force (or download the archive again)")


def verify_la(la_dir: str | os.PathLike,
              expected_counts: Mapping[str, int] | None = None) -> dict[str, int]:
    """Check that every utterance in each CM protocol has its FLAC file under ``la_dir``.

    Returns the number of utterances per split. With ``expected_counts`` (for instance
    :data:`OFFICIAL_LA_COUNTS`) the protocols must list exactly that many utterances.

    Raises:
        DataError: a protocol is missing, lists utterances whose audio is missing (the first
            few are named, with the total), or has the wrong length.
    """
    return verify_corpus(CORPORA["la2019"], la_dir, expected_counts)


def _top_level(name: str) -> str:
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    return parts[0] if parts else ""


def _write_marker(folder: Path, info: dict) -> None:
    """The completion marker, written last: extracted files first reach the disk."""
    if hasattr(os, "sync"):
        os.sync()  # extracted files are not fsynced one by one (see _extract_zip_member)
    with atomic_write(folder / COMPLETE_MARKER) as fh:
        fh.write(json.dumps(info, indent=2) + "\n")


def _expected_counts(corpus: Corpus, expected_counts: Mapping[str, int] | str | None, zip_path,
                     url: str) -> Mapping[str, int] | None:
    """The protocol sizes a one-zip corpus is checked against (see ``prepare_la``)."""
    if not isinstance(expected_counts, str):
        return expected_counts
    official_url = corpus.archives[0].url
    if expected_counts == "official" or (expected_counts == "auto" and zip_path is None
                                         and url == official_url):
        return corpus.counts
    if expected_counts == "auto":
        return None
    raise ConfigError(f"expected_counts must be 'auto', 'official', None or a mapping, "
                      f"not {expected_counts!r}")


def _zip_archive(corpus: Corpus, dest: Path, url: str, zip_path, sha256: str | None,
                 **fetch) -> Path:
    """The corpus's one zip: the user's own copy (checked against ``sha256``) or a verified
    download."""
    name = corpus.archives[0].name
    if zip_path is None:
        return download_file(url, dest / name, sha256, desc=name, **fetch)
    archive = Path(zip_path)
    if not archive.is_file():
        raise DownloadError(f"archive not found: {archive}; check the --zip path")
    expected = _expected_digests(sha256=sha256)
    if expected:
        actual = file_digests(archive, expected, progress=fetch.get("progress", False))
        if actual != expected:
            raise DownloadError(_mismatch(str(archive), expected, actual))
    return archive


def _require_top_folder(archive: Path, folder: str, corpus: str) -> None:
    with _open_zip(archive) as zf:
        names = zf.namelist()
    if not any(_top_level(n) == folder for n in names):
        shown = ", ".join(sorted({_top_level(n) for n in names})[:5]) or "nothing"
        raise DownloadError(f"{archive} has no top-level {folder}/ folder (it holds {shown}); "
                            f"is it the {corpus} archive?")


def prepare_zip_corpus(corpus: Corpus | str, dest: str | os.PathLike = ".", url: str | None = None,
                       zip_path: str | os.PathLike | None = None, sha256: str | None = None,
                       force: bool = False, remove_archive: bool = False,
                       expected_counts: Mapping[str, int] | str | None = "auto", *,
                       progress: bool = True, retries: int = 5, backoff: float = 1.0,
                       timeout: float = 60.0) -> Path:
    """Download, extract and verify a corpus that comes as one zip whose top-level folder is
    ``corpus.archive_top`` (ASVspoof 2019 LA's ``LA.zip``); return ``<dest>/<corpus.root>``.

    The corpus is left exactly as the archive lays it out.

    1. If ``<dest>/<root>/.aasist_complete`` exists and not ``force``: return at once (no network).
    2. Download ``url`` (default: the registry's) to ``<dest>/<archive name>`` (resumable, see
       :func:`download_file`), unless ``zip_path`` names an archive the user already has, or
       the archive is already there.
    3. Extract it safely into ``dest`` (see :func:`safe_extract_zip`); files already extracted
       by an interrupted earlier run are kept unless ``force``.
    4. Verify that every utterance of every split's protocol has its audio file, and with
       ``expected_counts`` the protocol sizes: ``"auto"`` uses the registry's official counts
       when downloading from the official URL, ``"official"`` always does, ``None`` never
       does, a mapping gives the sizes to expect.
    5. Write the completion marker; then, with ``remove_archive``, delete the archive.

    ``force`` ignores the marker and extracts and verifies everything again (an existing
    archive is reused: delete it to download it again). Interrupting at any point is safe:
    the next call continues where this one stopped.

    Raises:
        DownloadError: download or extraction failure (see :func:`download_file`,
            :func:`safe_extract_zip`), or an archive without the expected top-level folder.
        DataError: the extracted corpus fails verification.
    """
    corpus = get_corpus(corpus) if isinstance(corpus, str) else corpus
    if not corpus.archive_top:
        raise ConfigError(f"{corpus.title} does not come as one zip; use prepare_corpus")
    url = url or corpus.archives[0].url
    dest = Path(dest)
    root = dest / corpus.root
    if (root / COMPLETE_MARKER).is_file() and not force:
        return root
    counts = _expected_counts(corpus, expected_counts, zip_path, url)
    (root / COMPLETE_MARKER).unlink(missing_ok=True)  # from here on: unfinished
    archive = _zip_archive(corpus, dest, url, zip_path, sha256, retries=retries, backoff=backoff,
                           timeout=timeout, progress=progress)
    _require_top_folder(archive, corpus.archive_top, corpus.title)
    safe_extract_zip(archive, dest, progress=progress, skip_existing=not force)
    found = verify_corpus(corpus, root, counts)
    _write_marker(root, {
        "source": str(zip_path) if zip_path is not None else url,
        "counts": found,
        "completed_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    if remove_archive:
        archive.unlink(missing_ok=True)
    return root


def prepare_la(dest: str | os.PathLike = ".", url: str = OFFICIAL_LA_URL,
               zip_path: str | os.PathLike | None = None, sha256: str | None = None,
               force: bool = False, remove_archive: bool = False,
               expected_counts: Mapping[str, int] | str | None = "auto", **fetch) -> Path:
    """Download, extract and verify ASVspoof 2019 LA; return the path of ``<dest>/LA``
    (:func:`prepare_zip_corpus` for ``la2019``; ``"auto"`` counts check the official sizes
    when downloading from :data:`OFFICIAL_LA_URL`)."""
    return prepare_zip_corpus(CORPORA["la2019"], dest, url, zip_path, sha256, force,
                              remove_archive, expected_counts, **fetch)


# --------------------------------------------------------------------------------------------
# Any corpus
# --------------------------------------------------------------------------------------------

def verify_corpus(corpus: Corpus | str, root: str | os.PathLike,
                  expected_counts: Mapping[str, int] | None = None) -> dict[str, int]:
    """Check that every trial of each split's protocol has its audio file under ``root``.

    Returns the number of trials per split; with ``expected_counts`` the protocols must
    list exactly that many.

    Raises:
        DataError: a protocol is missing, lists trials whose audio is missing (the first
            few are named, with the total), or has the wrong length.
    """
    corpus = get_corpus(corpus) if isinstance(corpus, str) else corpus
    root = Path(root)
    counts: dict[str, int] = {}
    lost: list[str] = []
    for split in corpus.splits:
        files = corpus.split_files(root, split)
        if not files.protocol.is_file():
            raise DataError(f"protocol not found: {files.protocol}; the dataset is incomplete "
                            "(re-run the download with --force, or download the archive again)")
        records = corpus.reader(files.protocol)
        counts[split] = len(records)
        present = _audio_stems(files.audio_dir, files.audio_ext)
        folder = Path(os.path.relpath(files.audio_dir, root)).as_posix()
        lost += [f"{folder}/{r.utt_id}{files.audio_ext}" for r in records if r.utt_id not in present]
    if lost:
        raise _missing_audio_error(root, lost, f"{corpus.title} protocols")
    wrong = [f"{split}: {counts[split]:,} (expected {n:,})"
             for split, n in (expected_counts or {}).items() if counts.get(split) != n]
    if wrong:
        raise DataError(f"the protocols under {root} do not have the official {corpus.title} "
                        f"sizes: {'; '.join(wrong)}; this is not the official release (or it "
                        "is damaged)")
    return counts


def _state_path(dest: Path, corpus: Corpus) -> Path:
    """Where prepare_corpus records the archives it has verified and extracted."""
    return dest / f".aasist_{corpus.name}_archives.json"


def _read_state(path: Path) -> dict:
    """The record of archives checked and extracted so far (empty before the first one).

    Every write also refreshes ``<state>.bak``; a damaged state file falls back to that last
    good copy, and with neither readable the download stops: reading it as empty would
    extract a changed archive and record its checksum as trusted.
    """
    if not path.exists():
        return {}
    backup = path.with_name(path.name + ".bak")
    for candidate in (path, backup):
        try:
            state = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(state, dict) and all(isinstance(v, dict) for v in state.values()):
            if candidate is backup:
                _log.warning("%s is damaged; using its last good copy %s", path, backup)
            return state
    raise DownloadError(f"{path}: the record of verified archives is damaged (and has no "
                        f"readable backup {backup.name}); delete it to check every archive "
                        f"again: archives with a published checksum are verified against it, "
                        f"the others are recorded afresh from the copies on disk")


def _write_state(path: Path, state: Mapping[str, Any]) -> None:
    text = json.dumps(state, indent=2) + "\n"
    for target in (path, path.with_name(path.name + ".bak")):
        with atomic_write(target) as fh:
            fh.write(text)


def _checked_archive(path: Path, archive: Archive, recorded: Mapping[str, Any] | None,
                     progress: bool) -> dict[str, Any]:
    """Size, MD5 and SHA-256 of a downloaded archive, checked against the published
    checksum and against what an earlier verified download recorded. A mismatch removes
    the file (the next run downloads it again) and raises DownloadError."""
    expected = _expected_digests(md5=archive.md5, sha256=archive.sha256)
    for name in ("md5", "sha256"):
        if recorded and name in recorded and name not in expected:
            expected[name] = recorded[name]
    actual = file_digests(path, ("md5", "sha256"), progress=progress)
    if any(actual[k] != v for k, v in expected.items()):
        path.unlink(missing_ok=True)
        published = "published" if archive.md5 or archive.sha256 else "recorded at the first download"
        raise DownloadError(f"{_mismatch(str(path), expected, actual)} (the {published} "
                            f"checksum); the file was removed: run again to download it afresh")
    return {"size": path.stat().st_size, **actual}


def _fetch_archives(corpus: Corpus, dest: Path, archive_dir: Path, mirror: str | None,
                    force: bool, remove_archives: bool, fetch: dict) -> dict:
    """Download, check and extract every archive not yet done; returns the state record."""
    state_path = _state_path(dest, corpus)
    state = _read_state(state_path)
    for archive in corpus.archives:
        if state.get(archive.name, {}).get("extracted") and not force:
            continue
        url = f"{mirror.rstrip('/')}/{archive.name}" if mirror else archive.url
        path = download_file(url, archive_dir / archive.name, desc=archive.name, **fetch)
        record = _checked_archive(path, archive, state.get(archive.name), fetch["progress"])
        safe_extract(path, dest / corpus.extract_to, progress=fetch["progress"],
                     skip_existing=not force)
        state[archive.name] = {**record, "url": url, "extracted": True}
        _write_state(state_path, state)
        if remove_archives:
            path.unlink(missing_ok=True)
    return state


def prepare_corpus(name: str | Corpus, dest: str | os.PathLike = ".", *, mirror: str | None = None,
                   archive_dir: str | os.PathLike | None = None, force: bool = False,
                   remove_archives: bool = False, progress: bool = True, retries: int = 5,
                   backoff: float = 1.0, timeout: float = 60.0) -> Path:
    """Download, check, extract and verify a corpus; return its folder (the ``--root``).

    1. If ``<folder>/.aasist_complete`` exists and not ``force``: return at once.
    2. Each archive of the registry entry not yet extracted by an earlier run is downloaded
       into ``archive_dir`` (default ``dest``; resumable, see :func:`download_file`; an
       archive already there is used as it is), checked against its published MD5/SHA-256
       and against the size/MD5/SHA-256 recorded after an earlier verified download, then
       extracted safely (zip or tar, see :func:`safe_extract`) and recorded in
       ``dest/.aasist_<name>_archives.json``; with ``remove_archives`` it is deleted then.
    3. Every split's protocol must list only trials whose audio is there (and, for the
       official files, as many as the release has where the organisers state it).
    4. The completion marker records the counts and each archive's size and checksums.

    ``name``: a registry name (or a :class:`~aasist.data.corpora.Corpus`, e.g. one with
    other archives). ``mirror``: a URL folder that serves the archives under their own
    names, used instead of the official URLs. Interrupting is safe: the next call continues
    where it stopped.

    Raises:
        DownloadError: a download, checksum or extraction failure.
        DataError: the extracted corpus fails verification.
        ConfigError: an unknown corpus name.
    """
    corpus = name if isinstance(name, Corpus) else get_corpus(name)
    dest = Path(dest)
    if corpus.archive_top:  # one zip, which the user may already have in archive_dir
        archive = corpus.archives[0]
        local = Path(archive_dir or dest) / archive.name
        url = f"{mirror.rstrip('/')}/{archive.name}" if mirror else archive.url
        return prepare_zip_corpus(corpus, dest, url=url, zip_path=local if local.is_file() else None,
                                  force=force, remove_archive=remove_archives, progress=progress,
                                  retries=retries, backoff=backoff, timeout=timeout)
    root = dest / corpus.root
    if (root / COMPLETE_MARKER).is_file() and not force:
        return root
    (root / COMPLETE_MARKER).unlink(missing_ok=True)
    fetch = dict(retries=retries, backoff=backoff, timeout=timeout, progress=progress)
    state = _fetch_archives(corpus, dest, Path(archive_dir or dest), mirror, force,
                            remove_archives, fetch)
    counts = verify_corpus(corpus, root, corpus.counts if mirror is None else None)
    _write_marker(root, {
        "corpus": corpus.name, "counts": counts, "archives": state,
        "completed_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    return root


# --------------------------------------------------------------------------------------------
# Pretrained checkpoints
# --------------------------------------------------------------------------------------------

def download_pretrained(dest: str | os.PathLike = "weights",
                        names: Iterable[str] = ("AASIST", "AASIST-L"), *,
                        base_url: str = PRETRAINED_BASE_URL, progress: bool = True,
                        retries: int = 5, backoff: float = 1.0,
                        timeout: float = 60.0) -> dict[str, Path]:
    """Fetch the official checkpoints to ``<dest>/<name>.pth``, SHA-256 verified.

    ``base_url`` is the folder the ``.pth`` files are fetched from (the clovaai/aasist
    repository by default; any mirror with the same file names works). A file already present
    with the pinned hash is not fetched again. Returns ``{name: path}``.

    Raises:
        DownloadError: an unknown name (the valid ones are listed), or any download failure.
    """
    names = list(names)
    unknown = [n for n in names if n not in PRETRAINED_SHA256]
    if unknown:
        raise DownloadError(f"unknown pretrained model(s) {', '.join(unknown)}; valid names: "
                            f"{', '.join(PRETRAINED_SHA256)}")
    dest = Path(dest)
    base = base_url if base_url.endswith("/") else base_url + "/"
    out = {}
    for name in names:
        out[name] = download_file(base + f"{name}.pth", dest / f"{name}.pth",
                                  PRETRAINED_SHA256[name], retries=retries, backoff=backoff,
                                  timeout=timeout, progress=progress)
    return out
