"""Detached signatures over release artifacts, checked by the tools that made them.

- SSH signatures (`ssh-keygen -Y sign`): `ssh-keygen -Y verify` against an allowed-signers
  file, an identity and a namespace, with the artifact on stdin.
- OpenPGP signatures (`gpg --detach-sign`): `gpgv` against a public keyring (a binary
  `.gpg`/`.kbx` file such as `gpg --export` writes; gpgv does not read ASCII armor) in a
  throwaway, empty GNUPGHOME, so the user's own keys and trust settings neither help nor
  get touched.

The verdict is the tool's exit status: ok only when it exits 0. `detail` is the tool's own
most telling line ("Good signature ...", "BAD signature ...", "Signature verification
failed: ..."). A tool that is not installed or does not finish in time gives ok=False with
a detail saying so; missing input files raise InputError. The tools run with an argument
list, never through a shell, with the C locale so their words are predictable.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import IO

from watchstander.errors import InputError
from watchstander.gates.models import SignatureResult

__all__ = ["verify_ssh_signature", "verify_gpg_signature"]

# The lines that carry the verdict, in the order they are preferred as `detail`.
_TELLING = (
    "good signature",
    "bad signature",
    "signature verification failed",
    "could not verify",
    "can't check signature",
    "no public key",
    "no valid openpgp data",
    "not a detached signature",
    "couldn't",
    "error",
    "failed",
    "invalid",
)


def verify_ssh_signature(
    artifact: Path,
    signature: Path,
    *,
    allowed_signers: Path,
    identity: str,
    namespace: str = "file",
    timeout: float = 30.0,
) -> SignatureResult:
    """Verify an SSH signature (`ssh-keygen -Y sign -n NAMESPACE`) over `artifact` for
    `identity` as listed in `allowed_signers`. Raises InputError when the artifact, the
    signature or the allowed-signers file is missing."""
    _require(artifact, "artifact")
    _require(signature, "signature")
    _require(allowed_signers, "allowed signers file")
    if not identity:
        raise InputError(f"{signature}: no signer identity given to verify against")
    tool = shutil.which("ssh-keygen")
    if tool is None:
        return _result(artifact, signature, "ssh", False, "ssh-keygen not found")
    argv = [
        tool,
        "-Y",
        "verify",
        "-f",
        str(allowed_signers),
        "-I",
        identity,
        "-n",
        namespace,
        "-s",
        str(signature),
    ]
    return _run(argv, artifact, signature, "ssh", "ssh-keygen", timeout, stdin=artifact)


def verify_gpg_signature(
    artifact: Path, signature: Path, *, keyring: Path, timeout: float = 30.0
) -> SignatureResult:
    """Verify a detached OpenPGP signature over `artifact` with `gpgv`, trusting exactly the
    keys in `keyring`. Raises InputError when the artifact, the signature or the keyring is
    missing."""
    _require(artifact, "artifact")
    _require(signature, "signature")
    _require(keyring, "keyring")
    tool = shutil.which("gpgv")
    if tool is None:
        return _result(artifact, signature, "gpg", False, "gpgv not found")
    with tempfile.TemporaryDirectory(prefix="watchstander-gpgv-") as home:
        argv = [
            tool,
            "--homedir",
            home,
            "--keyring",
            str(keyring.resolve()),  # gpgv reads a bare name relative to its homedir
            "--",
            str(signature.resolve()),
            str(artifact.resolve()),
        ]
        return _run(argv, artifact, signature, "gpg", "gpgv", timeout, env={"GNUPGHOME": home})


def _require(path: Path, what: str) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file ({what})")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file ({what})")


def _result(artifact: Path, signature: Path, tool: str, ok: bool, detail: str) -> SignatureResult:
    return SignatureResult(
        artifact=str(artifact), signature=str(signature), tool=tool, ok=ok, detail=detail
    )


def _run(
    argv: list[str],
    artifact: Path,
    signature: Path,
    tool: str,
    program: str,
    timeout: float,
    *,
    stdin: Path | None = None,
    env: dict[str, str] | None = None,
) -> SignatureResult:
    environment = {**os.environ, "LC_ALL": "C", "LANG": "C", "LANGUAGE": "", **(env or {})}
    with contextlib.ExitStack() as stack:
        data: int | IO[bytes] = subprocess.DEVNULL
        if stdin is not None:
            try:
                data = stack.enter_context(stdin.open("rb"))
            except OSError as exc:
                raise InputError(f"{stdin}: cannot read ({exc.strerror or exc})") from None
        try:
            done = subprocess.run(  # an argument list, never a shell
                argv,
                stdin=data,
                capture_output=True,
                env=environment,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            return _result(artifact, signature, tool, False, f"{program} not found")
        except subprocess.TimeoutExpired:
            return _result(
                artifact, signature, tool, False, f"{program} did not finish within {timeout:g}s"
            )
        except OSError as exc:
            return _result(artifact, signature, tool, False, f"{program} could not run: {exc}")
    ok = done.returncode == 0
    detail = _detail(done.stdout, done.stderr, ok) or f"{program} exited with {done.returncode}"
    return _result(artifact, signature, tool, ok, detail)


def _detail(stdout: bytes, stderr: bytes, ok: bool) -> str:
    out = stdout.decode("utf-8", "replace").splitlines()
    err = stderr.decode("utf-8", "replace").splitlines()
    lines = [line.strip() for line in (out + err if ok else err + out) if line.strip()]
    for marker in _TELLING:
        for line in lines:
            if marker in line.lower():
                return line
    return lines[0] if lines else ""
