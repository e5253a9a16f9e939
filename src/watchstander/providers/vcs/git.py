"""Git, run as a subprocess: commit history, diffs, and `git bisect run` in a throwaway worktree.

Every git call is an argv list (never a shell) with an explicit `cwd`, `GIT_TERMINAL_PROMPT=0`
(a credential prompt fails instead of hanging), `LC_ALL=C` (parseable messages), no pager,
no colour and no signature checks, and without the GIT_DIR-style variables a calling hook
may have set. Revisions are resolved to commit ids first; one starting with "-" is refused,
so nothing a user types becomes an option.

Bisect never touches the user's checkout: it adds a detached worktree at `bad` in a new
temporary directory and does everything there (bisect state is per worktree), then runs
`git bisect reset`, `git worktree remove --force` and `git worktree prune` and deletes the
directory, whatever happened. Before bisecting it runs the command once at `bad` (it must
fail with an exit code git bisect counts as bad: 1-127 except 125) and once at `good` (it
must pass), so a wrong pair of ends is an error instead of a wrong answer. The command runs
at the worktree's top level; a relative program path resolves there.

Every failure is a ProviderError with one line: not a repository, unknown revision, good
not an ancestor of bad, command not found, the ends not behaving, timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from watchstander.errors import ProviderError

__all__ = [
    "Commit",
    "BisectResult",
    "commits",
    "commit",
    "changed_files",
    "diff_text",
    "resolve",
    "bisect",
    "GIT_TIMEOUT",
    "DIFF_MAX_BYTES",
]

GIT_TIMEOUT = 120.0
"""Seconds any single git command (other than `bisect run`) may take."""
DIFF_MAX_BYTES = 512 * 1024
"""Default bound on diff_text's output."""
OUTPUT_TAIL = 64 * 1024
"""How much of the bisect run's output is kept (the end of it)."""

_GLOBAL_OPTIONS = (
    "--no-pager",
    "-c",
    "color.ui=false",
    "-c",
    "log.showSignature=false",
    "-c",
    "core.quotePath=false",
)
_DROPPED_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
)
_RECORD = "\x1e"
_FORMAT = "--format=%x1e%H%x00%an%x00%ae%x00%aI%x00%s%x00%B%x00"
_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_FIRST_BAD = re.compile(r"^(" + _SHA.pattern + r") is the first bad commit", re.MULTILINE)


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    email: str
    date: datetime
    """The author date, timezone-aware (the author's own offset)."""
    subject: str
    message: str
    """The whole commit message, subject and body."""
    files: tuple[str, ...]
    """Paths the commit changed (added, modified or deleted; a rename is both paths).
    Empty for merge commits."""

    @property
    def short(self) -> str:
        return self.sha[:12]


@dataclass(frozen=True)
class BisectResult:
    commit: Commit
    """The first bad commit: the one that introduced the failure."""
    good: str
    bad: str
    """The ends as commit ids."""
    tested: int
    """How many commits `git bisect run` tested."""
    log: str
    """`git bisect log`: replayable with `git bisect replay`."""
    output: str
    """The end of `git bisect run`'s output (the command's output included)."""


# -- running git -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Completed:
    code: int
    out: bytes
    err: bytes
    truncated: bool


class _TimedOut(Exception):
    pass


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", LANGUAGE="C", GIT_PAGER="cat", PAGER="cat")
    return env


def _kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the process's whole group (it leads a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


async def _read(
    stream: asyncio.StreamReader | None,
    limit: int | None,
    keep: Literal["head", "tail"],
    proc: asyncio.subprocess.Process,
) -> tuple[bytes, bool]:
    if stream is None:
        return b"", False
    buffer = bytearray()
    truncated = False
    while chunk := await stream.read(65536):
        buffer += chunk
        if limit is not None and len(buffer) > limit:
            truncated = True
            if keep == "head":
                del buffer[limit:]
                _kill(proc)  # enough: stop producing
                break
            del buffer[: len(buffer) - limit]
    return bytes(buffer), truncated


async def _run(
    argv: Sequence[str],
    cwd: Path,
    *,
    timeout: float,
    limit: int | None = None,
    keep: Literal["head", "tail"] = "head",
    merge_stderr: bool = False,
) -> _Completed:
    """Run argv (no shell) in cwd. Raises OSError when it cannot start, _TimedOut after
    `timeout` seconds (the process group killed)."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT if merge_stderr else asyncio.subprocess.PIPE,
        start_new_session=True,
    )

    async def finish() -> _Completed:
        (out, truncated), (err, _) = await asyncio.gather(
            _read(proc.stdout, limit, keep, proc), _read(proc.stderr, 64 * 1024, "tail", proc)
        )
        code = await proc.wait()
        return _Completed(code, out, err, truncated)

    try:
        return await asyncio.wait_for(finish(), timeout=max(timeout, 0.001))
    except TimeoutError:
        _kill(proc)
        await proc.wait()
        raise _TimedOut from None
    except BaseException:
        _kill(proc)
        raise


def _repo_dir(repo: str | os.PathLike[str]) -> Path:
    path = Path(repo)
    if not path.is_dir():
        raise ProviderError(f"{path}: no such directory")
    return path


def _failure(repo: Path, args: Sequence[str], result: _Completed) -> ProviderError:
    lines = [line.strip() for line in result.err.decode(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    if any("not a git repository" in line for line in lines):
        return ProviderError(f"{repo}: not a git repository")
    reason = next(
        (line for line in lines if line.startswith(("fatal:", "error:"))),
        lines[0] if lines else f"exit status {result.code}",
    )
    for prefix in ("fatal: ", "error: "):
        reason = reason.removeprefix(prefix)
    return ProviderError(f"{repo}: git {args[0]}: {reason}")


async def _git(
    repo: Path,
    *args: str,
    check: bool = True,
    timeout: float = GIT_TIMEOUT,
    limit: int | None = None,
    keep: Literal["head", "tail"] = "head",
    merge_stderr: bool = False,
) -> _Completed:
    try:
        result = await _run(
            ["git", *_GLOBAL_OPTIONS, *args],
            repo,
            timeout=timeout,
            limit=limit,
            keep=keep,
            merge_stderr=merge_stderr,
        )
    except FileNotFoundError:
        if not repo.is_dir():
            raise ProviderError(f"{repo}: no such directory") from None
        raise ProviderError("git: not found on PATH") from None
    except _TimedOut:
        raise ProviderError(f"{repo}: git {args[0]}: timed out after {timeout:g}s") from None
    except OSError as exc:
        raise ProviderError(f"{repo}: cannot run git ({exc.strerror or exc})") from None
    if check and result.code != 0:
        raise _failure(repo, args, result)
    return result


# -- history ---------------------------------------------------------------------------------


def _parse_log(out: bytes) -> list[Commit]:
    tokens = out.decode("utf-8", "replace").split("\0")
    found: list[Commit] = []
    i = 0
    while i < len(tokens):
        token = tokens[i].lstrip("\n")
        if not token.startswith(_RECORD) or i + 5 >= len(tokens):
            i += 1
            continue
        sha, author, email, date, subject, message = (token[1:], *tokens[i + 1 : i + 6])
        i += 6
        files: list[str] = []
        while i < len(tokens) and not tokens[i].lstrip("\n").startswith(_RECORD):
            name = tokens[i].lstrip("\n")
            if name:
                files.append(name)
            i += 1
        found.append(
            Commit(
                sha=sha,
                author=author,
                email=email,
                date=datetime.fromisoformat(date),
                subject=subject,
                message=message.strip("\n"),
                files=tuple(files),
            )
        )
    return found


def _when(value: datetime, name: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value.isoformat()


async def resolve(repo: str | os.PathLike[str], ref: str) -> str:
    """The commit id `ref` (branch, tag, sha, HEAD~3, ...) names. ProviderError for an
    unknown revision or a ref that is not a commit."""
    path = _repo_dir(repo)
    if not ref or ref.startswith("-") or any(c in ref for c in "\0\n"):
        raise ProviderError(f"{path}: {ref!r} is not a revision")
    result = await _git(path, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if result.code != 0:
        failure = _failure(path, ["rev-parse"], result)
        if "not a git repository" in str(failure):
            raise failure
        raise ProviderError(f"{path}: unknown revision {ref!r} (no such branch, tag or commit)")
    return result.out.decode().strip()


async def commits(
    repo: str | os.PathLike[str],
    since: datetime | None = None,
    until: datetime | None = None,
    paths: Sequence[str] = (),
    *,
    ref: str = "HEAD",
    limit: int | None = None,
) -> list[Commit]:
    """Commits reachable from `ref`, newest first, whose commit date is within
    [since, until] (timezone-aware; either may be None), touching `paths` when given."""
    path = _repo_dir(repo)
    args = ["log", "-z", "--no-renames", "--name-only", _FORMAT]
    if since is not None:
        args.append(f"--since={_when(since, 'since')}")
    if until is not None:
        args.append(f"--until={_when(until, 'until')}")
    if limit is not None:
        args.append(f"--max-count={int(limit)}")
    args += [await resolve(path, ref), "--", *paths]
    return _parse_log((await _git(path, *args)).out)


async def commit(repo: str | os.PathLike[str], ref: str) -> Commit:
    """One commit, with the files it changed."""
    path = _repo_dir(repo)
    sha = await resolve(path, ref)
    result = await _git(path, "log", "-1", "-z", "--no-renames", "--name-only", _FORMAT, sha, "--")
    found = _parse_log(result.out)
    if not found:
        raise ProviderError(f"{path}: git log: nothing for {ref!r}")
    return found[0]


async def changed_files(repo: str | os.PathLike[str], a: str, b: str) -> list[str]:
    """Paths that differ between commits a and b (a rename is both paths)."""
    path = _repo_dir(repo)
    sha_a, sha_b = await resolve(path, a), await resolve(path, b)
    result = await _git(path, "diff", "--name-only", "-z", "--no-renames", sha_a, sha_b, "--")
    return [name for name in result.out.decode("utf-8", "replace").split("\0") if name]


async def diff_text(
    repo: str | os.PathLike[str],
    a: str,
    b: str,
    paths: Sequence[str] = (),
    *,
    max_bytes: int = DIFF_MAX_BYTES,
) -> str:
    """The unified diff from a to b (limited to `paths` when given), at most `max_bytes`
    long; a cut diff ends with a `[diff truncated at N bytes]` line."""
    path = _repo_dir(repo)
    sha_a, sha_b = await resolve(path, a), await resolve(path, b)
    result = await _git(
        path,
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        sha_a,
        sha_b,
        "--",
        *paths,
        check=False,
        limit=max_bytes,
    )
    if result.code != 0 and not result.truncated:
        raise _failure(path, ["diff"], result)
    text = result.out.decode("utf-8", "replace")
    if result.truncated:
        text = text.rstrip("\n") + f"\n[diff truncated at {max_bytes} bytes]\n"
    return text


# -- bisect ----------------------------------------------------------------------------------


async def bisect(
    repo: str | os.PathLike[str],
    good: str,
    bad: str,
    command: Sequence[str],
    *,
    timeout: float,
) -> BisectResult:
    """Find the first commit between `good` and `bad` at which `command` fails (exit 1-127
    except 125; 125 skips a commit), in a temporary worktree. `timeout` bounds the whole
    search, the two end checks included."""
    if not command or not command[0]:
        raise ProviderError("bisect: the test command is empty")
    argv = [str(part) for part in command]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def remaining() -> float:
        left = deadline - loop.time()
        if left <= 0:
            raise ProviderError(f"bisect: timed out after {timeout:g}s")
        return left

    path = _repo_dir(repo)
    good_sha, bad_sha = await resolve(path, good), await resolve(path, bad)
    if good_sha == bad_sha:
        raise ProviderError(f"{path}: good {good!r} and bad {bad!r} are the same commit")
    ancestry = await _git(path, "merge-base", "--is-ancestor", good_sha, bad_sha, check=False)
    if ancestry.code == 1:
        raise ProviderError(
            f"{path}: good {good!r} ({good_sha[:12]}) is not an ancestor of bad {bad!r} "
            f"({bad_sha[:12]})"
        )
    if ancestry.code != 0:
        raise _failure(path, ["merge-base"], ancestry)

    scratch = Path(tempfile.mkdtemp(prefix="watchstander-bisect-"))
    worktree = scratch / "worktree"
    added = started = False
    try:
        await _git(path, "worktree", "add", "--detach", str(worktree), bad_sha, timeout=remaining())
        added = True

        code = await _try_command(argv, worktree, remaining(), f"bad {bad!r}")
        if code == 0:
            raise ProviderError(
                f"bisect: the command passes at bad {bad!r} ({bad_sha[:12]}): nothing to find"
            )
        if not 0 < code < 128 or code == 125:
            raise ProviderError(
                f"bisect: the command exits {code} at bad {bad!r} ({bad_sha[:12]}); a bad "
                "commit must exit 1-127 but not 125"
            )
        await _git(worktree, "checkout", "--quiet", "--detach", good_sha, timeout=remaining())
        code = await _try_command(argv, worktree, remaining(), f"good {good!r}")
        if code != 0:
            raise ProviderError(
                f"bisect: the command fails at good {good!r} ({good_sha[:12]}) with exit "
                f"{code}; it must pass there"
            )

        await _git(worktree, "bisect", "start", bad_sha, good_sha, "--", timeout=remaining())
        started = True
        try:
            run = await _git(
                worktree,
                "bisect",
                "run",
                *argv,
                check=False,
                timeout=remaining(),
                limit=OUTPUT_TAIL,
                keep="tail",
                merge_stderr=True,
            )
        except ProviderError as exc:
            if "timed out" in str(exc):
                raise ProviderError(f"bisect: timed out after {timeout:g}s") from None
            raise
        output = run.out.decode("utf-8", "replace")
        log = (await _git(worktree, "bisect", "log", check=False)).out.decode("utf-8", "replace")
        first_bad = _first_bad(output, run.code)
        found = await commit(path, first_bad)
        tested = sum(
            1 for line in log.splitlines() if re.match(r"git bisect (good|bad|skip) ", line)
        )
        return BisectResult(
            commit=found, good=good_sha, bad=bad_sha, tested=tested, log=log, output=output
        )
    finally:
        await _cleanup(path, worktree, scratch, added=added, started=started)


def _first_bad(output: str, code: int) -> str:
    match = _FIRST_BAD.search(output)
    if match:
        return match.group(1)
    if "only 'skip'ped commits left" in output:
        candidates = _SHA.findall(output.split("could be any of:", 1)[-1])
        listed = ", ".join(sha[:12] for sha in dict.fromkeys(candidates))
        raise ProviderError(
            f"bisect: only skipped commits left; the first bad one is one of {listed}"
        )
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    reason = lines[-1] if lines else f"exit status {code}"
    raise ProviderError(f"bisect: git bisect run found no first bad commit ({reason})")


async def _try_command(argv: list[str], cwd: Path, timeout: float, where: str) -> int:
    try:
        result = await _run(argv, cwd, timeout=timeout, limit=OUTPUT_TAIL, keep="tail")
    except FileNotFoundError:
        raise ProviderError(f"bisect: command not found: {argv[0]}") from None
    except PermissionError:
        raise ProviderError(f"bisect: command not executable: {argv[0]}") from None
    except OSError as exc:
        raise ProviderError(f"bisect: cannot run {argv[0]} ({exc.strerror or exc})") from None
    except _TimedOut:
        raise ProviderError(f"bisect: timed out running the command at {where}") from None
    return result.code


async def _cleanup(
    repo: Path, worktree: Path, scratch: Path, *, added: bool, started: bool
) -> None:
    """Undo everything bisect set up; each step tolerates the previous one failing."""
    with contextlib.suppress(ProviderError):
        if started:
            await _git(worktree, "bisect", "reset", check=False, timeout=60)
    with contextlib.suppress(ProviderError):
        if added:
            await _git(
                repo, "worktree", "remove", "--force", str(worktree), check=False, timeout=60
            )
    shutil.rmtree(scratch, ignore_errors=True)
    with contextlib.suppress(ProviderError):
        await _git(repo, "worktree", "prune", check=False, timeout=60)
