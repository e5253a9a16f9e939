"""SHA-256 checksum files, as written by `sha256sum` (GNU coreutils), `shasum -a 256` or the
BSD-style `sha256sum --tag` / `sha256` / `openssl dgst -sha256`, and the artifacts they name.

Accepted lines:

- GNU: `<64 hex digits>  name` (text mode) or `<64 hex digits> *name` (binary mode), and
  the single-space `<64 hex digits> name` of BSD `sha256 -r`;
  a line starting with a backslash is GNU's escaped form, in which the name spells a
  backslash as `\\\\` and a newline as `\\n`;
- BSD: `SHA256 (name) = <64 hex digits>` (also with the leading backslash escape, and
  OpenSSL's `SHA256(name)= ` and `SHA2-256(name)= ` spellings).

Blank lines and lines starting with `#` are ignored; a trailing carriage return is dropped.
Names are relative to `base_dir` (the checksum file's directory by default); absolute names
and names that climb out of it with `..` are refused (a lexical check: a symlink inside
base_dir is followed like any file). Artifacts are hashed in 1 MiB reads.
Nothing is written.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from watchstander.errors import InputError
from watchstander.gates.models import ChecksumResult

__all__ = ["verify_checksums"]

CHUNK = 1024 * 1024
_GNU = re.compile(r"([0-9a-fA-F]{64})[ \t]([ *]?)(.+)")
_BSD = re.compile(r"(?:SHA256|SHA2-256) ?\((.+)\) ?= ?([0-9a-fA-F]{64})")
_OTHER_DIGESTS = {32: "MD5", 40: "SHA-1", 56: "SHA-224", 96: "SHA-384", 128: "SHA-512"}
_HEX_PREFIX = re.compile(r"([0-9a-fA-F]+) [ *]")
_BSD_OTHER = re.compile(r"(MD5|SHA1|SHA224|SHA384|SHA512|SHA512/256|BLAKE2b|SM3) \(")


def verify_checksums(checksum_file: Path, base_dir: Path | None = None) -> list[ChecksumResult]:
    """Check every artifact the SHA-256 checksum file names, in file order.

    A missing artifact gives `actual=None, ok=False`. Raises InputError when the checksum
    file is missing or unreadable, a line is not a SHA-256 checksum line, a name is absolute
    or leaves base_dir, an artifact cannot be read, or the file has no entries at all."""
    base = base_dir if base_dir is not None else checksum_file.parent
    results: list[ChecksumResult] = []
    for number, line in enumerate(_read_lines(checksum_file), start=1):
        where = f"{checksum_file}:{number}"
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, expected = _parse_line(line, where)
        target = _resolve(base, name, where)
        actual = _sha256(target, name, where)
        results.append(
            ChecksumResult(
                path=name,
                expected=expected,
                actual=actual,
                ok=actual == expected,
                source=where,
            )
        )
    if not results:
        raise InputError(f"{checksum_file}: no checksum entries")
    return results


def _read_lines(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a checksum file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if b"\x00" in data:
        raise InputError(f"{path}: binary data (NUL bytes), not a checksum file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{path}:{line}: not UTF-8 text") from None
    return [line.removesuffix("\r") for line in text.split("\n")]


def _parse_line(line: str, where: str) -> tuple[str, str]:
    escaped = line.startswith("\\")
    body = line[1:] if escaped else line
    gnu = _GNU.fullmatch(body)
    if gnu is not None:
        digest, name = gnu.group(1), gnu.group(3)
    else:
        bsd = _BSD.fullmatch(body)
        if bsd is None:
            raise InputError(f"{where}: not a sha256 checksum line{_hint(body)}")
        name, digest = bsd.group(1), bsd.group(2)
    if escaped:
        name = _unescape(name, where)
    if "\x00" in name:
        raise InputError(f"{where}: file name contains a NUL character")
    return name, digest.lower()


def _hint(body: str) -> str:
    hexed = _HEX_PREFIX.match(body)
    if hexed is not None and len(hexed.group(1)) in _OTHER_DIGESTS:
        return f" (a {_OTHER_DIGESTS[len(hexed.group(1))]} digest?)"
    other = _BSD_OTHER.match(body)
    if other is not None:
        return f" ({other.group(1)}, not SHA256)"
    return ""


def _unescape(name: str, where: str) -> str:
    out: list[str] = []
    chars = iter(name)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        escape = next(chars, "")
        if escape == "\\":
            out.append("\\")
        elif escape == "n":
            out.append("\n")
        elif escape == "r":
            out.append("\r")
        else:
            raise InputError(f"{where}: unknown escape '\\{escape}' in the file name")
    return "".join(out)


def _resolve(base: Path, name: str, where: str) -> Path:
    if (
        PurePosixPath(name).is_absolute()
        or PureWindowsPath(name).is_absolute()
        or PureWindowsPath(name).drive
    ):
        raise InputError(f"{where}: absolute path {name!r} is not allowed")
    normal = posixpath.normpath(name)
    if normal == ".." or normal.startswith("../"):
        raise InputError(f"{where}: {name!r} leads outside {base}")
    if normal == ".":
        raise InputError(f"{where}: {name!r} names the base directory, not a file")
    return base / normal


def _sha256(target: Path, name: str, where: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with target.open("rb") as artifact:
            while chunk := artifact.read(CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise InputError(f"{where}: {name} is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{where}: cannot read {name} ({exc.strerror or exc})") from None
    return digest.hexdigest()
