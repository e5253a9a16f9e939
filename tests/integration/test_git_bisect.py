"""The git provider on a real repository: history queries, and `git bisect run` in a throwaway
worktree that leaves the user's checkout (HEAD, branch, index, working tree) untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from watchstander.errors import ProviderError
from watchstander.providers.vcs.git import (
    bisect,
    changed_files,
    commit,
    commits,
    diff_text,
    resolve,
)

pytestmark = pytest.mark.integration

COMMITS = 20
CULPRIT = 13
TEST_COMMAND = [
    sys.executable,
    "-c",
    "import sys; sys.exit(open('value.txt').read().strip() != 'ok')",
]
GIT = [
    "git",
    "-c",
    "user.name=Test Runner",
    "-c",
    "user.email=runner@example.com",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "core.hooksPath=/dev/null",
]


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [*GIT, *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def date(n: int) -> str:
    return f"2024-01-{n:02d}T12:00:00+00:00"


@dataclass
class Repo:
    path: Path
    shas: list[str]  # shas[n] is commit n (1-based; shas[0] unused)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """20 commits on main; commit 13 (by someone else) turns value.txt from ok to bad.
    The checkout then gets an uncommitted change and a staged new file."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "--quiet", "-b", "main")
    shas = [""]
    for n in range(1, COMMITS + 1):
        with (path / "log.txt").open("a") as log:
            log.write(f"step {n}\n")
        files = ["log.txt"]
        if n == 1:
            (path / "value.txt").write_text("ok\n")
            files.append("value.txt")
        if n == CULPRIT:
            (path / "value.txt").write_text("bad\n")
            files.append("value.txt")
        git(path, "add", *files)
        env = {**os.environ, "GIT_AUTHOR_DATE": date(n), "GIT_COMMITTER_DATE": date(n)}
        message = f"step {n}"
        author = ["--author", "Test Runner <runner@example.com>"]
        if n == CULPRIT:
            message = "switch value to bad\n\nThis breaks the value check."
            author = ["--author", "Dana Culprit <dana@example.com>"]
        git(path, "commit", "--quiet", "-m", message, *author, env=env)
        shas.append(git(path, "rev-parse", "HEAD").strip())
    with (path / "log.txt").open("a") as log:
        log.write("uncommitted work\n")
    (path / "staged.txt").write_text("staged\n")
    git(path, "add", "staged.txt")
    return Repo(path, shas)


def checkout_state(path: Path) -> dict[str, str]:
    return {
        "head": git(path, "rev-parse", "HEAD"),
        "branch": git(path, "symbolic-ref", "HEAD"),
        "status": git(path, "status", "--porcelain=v1", "--untracked-files=all"),
        "worktree diff": git(path, "diff"),
        "index diff": git(path, "diff", "--cached"),
        "log.txt": (path / "log.txt").read_text(),
        "worktrees": git(path, "worktree", "list", "--porcelain"),
        "bisect refs": git(path, "for-each-ref", "refs/bisect"),
    }


def assert_untouched(repo: Repo, before: dict[str, str]) -> None:
    after = checkout_state(repo.path)
    assert after == before
    assert (
        len([line for line in after["worktrees"].splitlines() if line.startswith("worktree ")]) == 1
    )
    assert after["bisect refs"] == ""
    assert not (repo.path / ".git" / "BISECT_LOG").exists()
    assert not (repo.path / ".git" / "worktrees").exists() or not any(
        (repo.path / ".git" / "worktrees").iterdir()
    )


async def test_bisect_finds_the_commit_that_broke_the_check(repo: Repo) -> None:
    before = checkout_state(repo.path)
    result = await bisect(repo.path, repo.shas[1], "main", TEST_COMMAND, timeout=120)

    assert result.commit.sha == repo.shas[CULPRIT]
    assert result.commit.author == "Dana Culprit" and result.commit.email == "dana@example.com"
    assert result.commit.subject == "switch value to bad"
    assert result.commit.message == "switch value to bad\n\nThis breaks the value check."
    assert result.commit.date == datetime(2024, 1, CULPRIT, 12, tzinfo=UTC)
    assert result.commit.date.tzinfo is not None
    assert result.commit.files == ("log.txt", "value.txt")
    assert result.good == repo.shas[1] and result.bad == repo.shas[COMMITS]
    assert 1 <= result.tested <= 6  # log2(19) rounded up, give or take
    assert "git bisect start" in result.log
    assert f"# first bad commit: [{repo.shas[CULPRIT]}]" in result.log
    assert "is the first bad commit" in result.output

    assert_untouched(repo, before)


async def test_bisect_errors_are_one_line_and_leave_nothing_behind(repo: Repo) -> None:
    before = checkout_state(repo.path)
    first, last = repo.shas[1], repo.shas[COMMITS]
    cases = [
        ((first, "no-such-branch", TEST_COMMAND, 60), "unknown revision 'no-such-branch'"),
        ((last, first, TEST_COMMAND, 60), "is not an ancestor of bad"),
        ((first, first, TEST_COMMAND, 60), "are the same commit"),
        ((first, last, ["watchstander-no-such-command-x"], 60), "command not found"),
        ((first, repo.shas[5], TEST_COMMAND, 60), "the command passes at bad"),
        ((repo.shas[14], last, TEST_COMMAND, 60), "the command fails at good"),
        ((first, last, [], 60), "the test command is empty"),
        (
            (
                first,
                last,
                [sys.executable, "-c", "import threading; threading.Event().wait()"],
                1.5,
            ),
            "timed out",
        ),
    ]
    for (good, bad, command, timeout), expected in cases:
        with pytest.raises(ProviderError, match=expected) as caught:
            await bisect(repo.path, good, bad, command, timeout=timeout)
        assert "\n" not in str(caught.value)
        assert caught.value.exit_code == 6
        assert_untouched(repo, before)


async def test_bisect_skips_untestable_commits(repo: Repo) -> None:
    """Exit 125 skips a commit; bisect still lands on the culprit when it is testable."""
    command = [
        sys.executable,
        "-c",
        "import sys\n"
        "steps = open('log.txt').read().count('step')\n"
        "sys.exit(125 if steps in (10, 11) else open('value.txt').read().strip() != 'ok')",
    ]
    result = await bisect(repo.path, repo.shas[1], repo.shas[COMMITS], command, timeout=120)
    assert result.commit.sha == repo.shas[CULPRIT]


async def test_resolve(repo: Repo) -> None:
    assert await resolve(repo.path, "HEAD") == repo.shas[COMMITS]
    assert await resolve(repo.path, "main~7") == repo.shas[CULPRIT]
    assert await resolve(repo.path, repo.shas[3][:10]) == repo.shas[3]
    with pytest.raises(ProviderError, match=r"unknown revision 'v9\.9\.9'"):
        await resolve(repo.path, "v9.9.9")
    with pytest.raises(ProviderError, match="is not a revision"):
        await resolve(repo.path, "--all")


async def test_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ProviderError, match="not a git repository"):
        await resolve(plain, "HEAD")
    with pytest.raises(ProviderError, match="not a git repository"):
        await bisect(plain, "a", "b", TEST_COMMAND, timeout=10)
    with pytest.raises(ProviderError, match="no such directory"):
        await commits(tmp_path / "missing")


async def test_commits_and_commit(repo: Repo) -> None:
    every = await commits(repo.path)
    assert [c.sha for c in every] == list(reversed(repo.shas[1:]))
    assert every[-1].files == ("log.txt", "value.txt") and every[0].files == ("log.txt",)
    assert every[0].subject == "step 20" and every[0].author == "Test Runner"

    window = await commits(
        repo.path,
        since=datetime(2024, 1, 15, tzinfo=UTC),
        until=datetime(2024, 1, 17, 23, tzinfo=UTC),
    )
    assert [c.sha for c in window] == [repo.shas[17], repo.shas[16], repo.shas[15]]

    touching = await commits(repo.path, None, None, ["value.txt"])
    assert [c.sha for c in touching] == [repo.shas[CULPRIT], repo.shas[1]]

    assert len(await commits(repo.path, ref=repo.shas[5])) == 5
    with pytest.raises(ValueError, match="timezone-aware"):
        await commits(repo.path, since=datetime(2024, 1, 1))

    culprit = await commit(repo.path, repo.shas[CULPRIT])
    assert culprit.author == "Dana Culprit" and culprit.files == ("log.txt", "value.txt")
    assert culprit.short == repo.shas[CULPRIT][:12]


async def test_changed_files_and_diff(repo: Repo) -> None:
    assert await changed_files(repo.path, repo.shas[12], repo.shas[14]) == ["log.txt", "value.txt"]
    assert await changed_files(repo.path, repo.shas[14], repo.shas[15]) == ["log.txt"]

    diff = await diff_text(repo.path, repo.shas[12], repo.shas[13], ["value.txt"])
    assert "-ok" in diff and "+bad" in diff and "log.txt" not in diff

    cut = await diff_text(repo.path, repo.shas[1], repo.shas[COMMITS], max_bytes=64)
    assert cut.endswith("[diff truncated at 64 bytes]\n")
    assert len(cut.encode()) < 64 + 40

    with pytest.raises(ProviderError, match="unknown revision"):
        await changed_files(repo.path, "nope", "HEAD")
