"""Detached CMS signatures: plain openssl verifies them over the exact bytes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from auditkit.signing import GeneratedKeys

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl binary is not installed")


def openssl_verify(content: Path, ca: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(OPENSSL), "cms", "-verify", "-binary", "-inform", "DER", "-in", f"{content}.p7s",
         "-content", str(content), "-CAfile", str(ca), *extra, "-out", "/dev/null"],
        capture_output=True, text=True, check=False)


@pytest.mark.parametrize("name", ["results.json", "report.html"])
@pytest.mark.parametrize("extra", [("-purpose", "any"), ()])
def test_openssl_accepts_the_p7s(signed_dir: Path, keys: GeneratedKeys, name: str, extra: tuple) -> None:
    done = openssl_verify(signed_dir / name, keys.ca_cert, *extra)
    assert done.returncode == 0, done.stderr
    assert "Verification successful" in done.stderr


def test_openssl_rejects_changed_content_and_another_ca(signed_dir: Path, keys: GeneratedKeys,
                                                        other_keys: GeneratedKeys) -> None:
    assert openssl_verify(signed_dir / "results.json", other_keys.ca_cert, "-purpose", "any").returncode != 0
    (signed_dir / "results.json").write_bytes((signed_dir / "results.json").read_bytes() + b" ")
    assert openssl_verify(signed_dir / "results.json", keys.ca_cert, "-purpose", "any").returncode != 0


def test_p7s_is_der_and_embeds_the_signer_certificate(signed_dir: Path, keys: GeneratedKeys) -> None:
    done = subprocess.run([str(OPENSSL), "cms", "-cmsout", "-print", "-inform", "DER", "-in",
                           str(signed_dir / "results.json.p7s")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "CN=Jane Auditor" in done.stdout.replace(" = ", "=")
    assert "eContent: <ABSENT>" in done.stdout  # detached
