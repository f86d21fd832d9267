"""Resumable, verified downloads and safe archive extraction.

Three public entry points, each wrapped by a thin script in ``scripts/``:

- :func:`download_file`: one URL to one file, streamed to ``<dest>.part``, resumed with an
  HTTP ``Range`` request, retried with exponential backoff, checked against a SHA-256 and
  renamed into place only when complete.
- :func:`prepare_la`: the ASVspoof 2019 LA corpus, downloaded (or taken from an archive the
  user already has), extracted safely to ``<dest>/LA/``, checked against its own CM protocols
  and marked complete with ``LA/.aasist_complete`` so that re-running does nothing.
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
import os
import re
import shutil
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

from tqdm import tqdm

from .data.protocols import SPLITS, la_paths, read_cm_protocol
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
    "safe_extract_zip",
    "prepare_la",
    "verify_la",
    "download_pretrained",
    "sha256_file",
]

#: The ASVspoof 2019 corpus on Edinburgh DataShare; ``LA.zip`` is about 7.6 GB.
OFFICIAL_LA_URL = "https://datashare.ed.ac.uk/bitstream/handle/10283/3336/LA.zip?sequence=3&isAllowed=y"
#: Utterances listed in each official CM protocol.
OFFICIAL_LA_COUNTS = {"train": 25380, "dev": 24844, "eval": 71237}
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
# safe_extract_zip
# --------------------------------------------------------------------------------------------

def _open_zip(zip_path: Path) -> zipfile.ZipFile:
    if not zip_path.is_file():
        raise DownloadError(f"archive not found: {zip_path}")
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise DownloadError(
            f"{zip_path} is not a readable zip archive ({err}); it is corrupt or incomplete: "
            "delete it and download it again") from None


def _member_parts(info: zipfile.ZipInfo, zip_path: Path) -> list[str]:
    """Validate one member and return its path components relative to the destination."""
    name = info.filename
    mode = info.external_attr >> 16
    if (mode & 0o170000) == 0o120000:
        raise DownloadError(f"refusing to extract {zip_path}: member {name!r} is a symbolic "
                            "link; nothing was extracted")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        raise DownloadError(f"refusing to extract {zip_path}: member {name!r} has an absolute "
                            "path; nothing was extracted")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise DownloadError(f"refusing to extract {zip_path}: member {name!r} would land "
                            "outside the destination; nothing was extracted")
    return parts


def _zip_corrupt(zip_path: Path, name: str, err: BaseException, what: str) -> DownloadError:
    return DownloadError(f"{zip_path} is corrupt: member {name} {what} ({err}); delete the "
                         "archive and download it again")


def _copy_stream(src, out, target: Path, bar) -> None:
    """Copy ``src`` to ``out`` (``target``'s temporary file) in 1 MiB chunks."""
    while True:
        chunk = src.read(1 << 20)
        if not chunk:
            return
        _write_chunk(out, chunk, target, "run again")
        bar.update(len(chunk))


def _extract_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path,
                        zip_path: Path, bar) -> None:
    """One file, written beside ``target`` and renamed into place once its CRC checked out.

    Not fsynced one by one (an archive holds ~100k files): the caller syncs once before it
    writes its completion marker, and a resumed extraction re-checks sizes.
    """
    try:
        with zf.open(info) as src, atomic_write(target, "wb", durable=False) as out:
            try:
                _copy_stream(src, out, target, bar)
            except _ZIP_ERRORS as err:
                raise _zip_corrupt(zip_path, info.filename, err,
                                   "failed its integrity check") from None
    except _ZIP_ERRORS as err:  # raised by zf.open (bad local header, ...)
        raise _zip_corrupt(zip_path, info.filename, err, "could not be read") from None
    except RuntimeError as err:  # encrypted member
        raise DownloadError(f"cannot extract {info.filename} from {zip_path}: {err}") from None


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
        plan = [(info, _member_parts(info, zip_path)) for info in zf.infolist()]
        plan = [(info, parts) for info, parts in plan if parts]

        todo = []
        for info, parts in plan:
            target = dest.joinpath(*parts)
            if (skip_existing and not info.is_dir() and target.is_file()
                    and target.stat().st_size == info.file_size):
                continue
            todo.append((info, target))
        needed = sum(info.file_size for info, _ in todo if not info.is_dir())
        _check_free_space(dest, needed, f"extracting {zip_path}")

        dest.mkdir(parents=True, exist_ok=True)
        with tqdm(total=needed, unit="B", unit_scale=True, unit_divisor=1024,
                  desc=f"extract {zip_path.name}", disable=not progress,
                  dynamic_ncols=True) as bar:
            for info, target in todo:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    _extract_zip_member(zf, info, target, zip_path, bar)
    return [info.filename for info, _ in plan]


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
    la_dir = Path(la_dir)
    counts: dict[str, int] = {}
    lost: list[str] = []
    for split in SPLITS:
        paths = la_paths(la_dir, split)
        if not paths.protocol.is_file():
            raise DataError(f"CM protocol not found: {paths.protocol}; the dataset is incomplete "
                            "(re-run the download with --force, or download the archive again)")
        records = read_cm_protocol(paths.protocol)
        counts[split] = len(records)
        present = _audio_stems(paths.flac_dir, ".flac")
        folder = paths.flac_dir.relative_to(la_dir)
        lost += [f"{folder}/{r.utt_id}.flac" for r in records if r.utt_id not in present]
    if lost:
        raise _missing_audio_error(la_dir, lost, "CM protocols")
    wrong = [f"{split}: {counts[split]:,} (expected {n:,})"
             for split, n in (expected_counts or {}).items() if counts.get(split) != n]
    if wrong:
        raise DataError(
            f"the CM protocols under {la_dir} do not have the official ASVspoof 2019 LA sizes: "
            f"{'; '.join(wrong)}; this is not the official archive (or it is damaged)")
    return counts


def _top_level(name: str) -> str:
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    return parts[0] if parts else ""


def _write_marker(folder: Path, info: dict) -> None:
    """The completion marker, written last: extracted files first reach the disk."""
    if hasattr(os, "sync"):
        os.sync()  # extracted files are not fsynced one by one (see _extract_zip_member)
    with atomic_write(folder / COMPLETE_MARKER) as fh:
        fh.write(json.dumps(info, indent=2) + "\n")


def _la_counts(expected_counts: Mapping[str, int] | str | None, zip_path, url: str
               ) -> Mapping[str, int] | None:
    """The protocol sizes ``prepare_la`` checks (see its ``expected_counts``)."""
    if not isinstance(expected_counts, str):
        return expected_counts
    if expected_counts == "official" or (expected_counts == "auto" and zip_path is None
                                         and url == OFFICIAL_LA_URL):
        return OFFICIAL_LA_COUNTS
    if expected_counts == "auto":
        return None
    raise ConfigError(f"expected_counts must be 'auto', 'official', None or a mapping, "
                      f"not {expected_counts!r}")


def _la_archive(dest: Path, url: str, zip_path, sha256: str | None, **fetch) -> Path:
    """LA.zip: the user's own copy (checked against ``sha256``) or a verified download."""
    if zip_path is None:
        return download_file(url, dest / "LA.zip", sha256, desc="LA.zip", **fetch)
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


def prepare_la(dest: str | os.PathLike = ".", url: str = OFFICIAL_LA_URL,
               zip_path: str | os.PathLike | None = None, sha256: str | None = None,
               force: bool = False, remove_archive: bool = False,
               expected_counts: Mapping[str, int] | str | None = "auto", *,
               progress: bool = True, retries: int = 5, backoff: float = 1.0,
               timeout: float = 60.0) -> Path:
    """Download, extract and verify ASVspoof 2019 LA; return the path of ``<dest>/LA``.

    The corpus is left exactly as the archive lays it out (its top-level folder is ``LA/``).

    1. If ``<dest>/LA/.aasist_complete`` exists and not ``force``: return at once (no network).
    2. Download ``url`` to ``<dest>/LA.zip`` (resumable, see :func:`download_file`), unless
       ``zip_path`` names an archive the user already has, or ``LA.zip`` is already there.
    3. Extract it safely into ``dest`` (see :func:`safe_extract_zip`); files already extracted
       by an interrupted earlier run are kept unless ``force``.
    4. Verify that every utterance of the train/dev/eval CM protocols has its FLAC file, and
       with ``expected_counts`` the protocol sizes: ``"auto"`` uses :data:`OFFICIAL_LA_COUNTS`
       when downloading from :data:`OFFICIAL_LA_URL`, ``"official"`` always does, ``None``
       never does, a mapping gives the sizes to expect.
    5. Write the completion marker; then, with ``remove_archive``, delete the archive.

    ``force`` ignores the marker and extracts and verifies everything again (an existing
    archive is reused: delete it to download it again). Interrupting at any point is safe:
    the next call continues where this one stopped.

    Raises:
        DownloadError: download or extraction failure (see :func:`download_file`,
            :func:`safe_extract_zip`), or an archive without a top-level ``LA/`` folder.
        DataError: the extracted corpus fails verification.
    """
    dest = Path(dest)
    la_dir = dest / "LA"
    if (la_dir / COMPLETE_MARKER).is_file() and not force:
        return la_dir
    counts = _la_counts(expected_counts, zip_path, url)
    (la_dir / COMPLETE_MARKER).unlink(missing_ok=True)  # from here on: unfinished
    archive = _la_archive(dest, url, zip_path, sha256, retries=retries, backoff=backoff,
                          timeout=timeout, progress=progress)
    _require_top_folder(archive, "LA", "ASVspoof 2019 LA")
    safe_extract_zip(archive, dest, progress=progress, skip_existing=not force)
    found = verify_la(la_dir, counts)
    _write_marker(la_dir, {
        "source": str(zip_path) if zip_path is not None else url,
        "counts": found,
        "completed_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    if remove_archive:
        archive.unlink(missing_ok=True)
    return la_dir


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
