"""The keygen and verify commands and the signing options of run, as the CLI will call them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from auditkit.cli.output import EXIT_FAILED, EXIT_OK
from auditkit.cli.signing import add_parsers, add_signing_arguments, keygen, signing_options, verify
from auditkit.signing import GeneratedKeys, SigningError, VerificationInputError, verify_report
from auditkit.signing.options import SigningOptions, plan_signing, sign_planned


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="auditkit")
    commands = parser.add_subparsers(dest="command", required=True)
    add_parsers(commands)
    run = commands.add_parser("run")
    run.add_argument("policy")
    add_signing_arguments(run)
    return parser.parse_args([str(a) for a in argv])


def test_keygen_command(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("AUDITKIT_TEST_PASS", "pw")
    args = parse("keygen", tmp_path / "k", "--name", "Ops Lead", "--days", "2",
                 "--passphrase-env", "AUDITKIT_TEST_PASS")
    assert keygen(args) == EXIT_OK
    out = capsys.readouterr().out
    assert f"trust anchor (give to verifiers): {tmp_path / 'k' / 'ca.pem'}" in out
    args = parse("run", "p.yaml", "--sign-key", tmp_path / "k" / "signer.p12",
                 "--sign-passphrase-env", "AUDITKIT_TEST_PASS")
    assert args.sign_key == tmp_path / "k" / "signer.p12"
    with pytest.raises(SigningError, match="AUDITKIT_TEST_UNSET"):
        keygen(parse("keygen", tmp_path / "k2", "--passphrase-env", "AUDITKIT_TEST_UNSET"))


def test_verify_command_ok(signed_dir: Path, keys: GeneratedKeys, capsys) -> None:
    assert verify(parse("verify", signed_dir, "--trust", keys.ca_cert)) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{signed_dir / 'report.pdf'}: ok: signed by 'Jane Auditor'")
    assert lines[-3].startswith("OK: 3 of 3 signatures")
    assert lines[-2] == "verified: no readable results.json names the audit"  # a stand-in results.json
    assert lines[-1] == f"history: not checked (no database at {signed_dir / 'history.sqlite'}; give --db)"
    assert verify(parse("verify", signed_dir, "--trust", keys.ca_cert, "--quiet")) == EXIT_OK
    assert capsys.readouterr().out == ""
    assert verify(parse("verify", signed_dir, "--trust", keys.ca_cert, "--no-history")) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[-1] == "history: not checked (--no-history)"
    with pytest.raises(SystemExit):
        parse("verify", signed_dir, "--strict", "--no-history")


def test_verify_command_names_the_failed_file(signed_dir: Path, keys: GeneratedKeys, capsys) -> None:
    (signed_dir / "results.json").write_text("{}")
    assert verify(parse("verify", signed_dir, "--trust", keys.ca_cert, "--quiet")) == EXIT_FAILED
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{signed_dir / 'results.json'}: modified: results.json changed after signing: its digest "
                   "differs from the signed one",
                   "FAILED: 1 of 3 signature checks failed (modified)"]


def test_verify_command_without_trust_fails(signed_dir: Path, capsys) -> None:
    assert verify(parse("verify", signed_dir)) == EXIT_FAILED
    assert "not checked against a trust anchor" in capsys.readouterr().out


def test_verify_command_json(signed_dir: Path, keys: GeneratedKeys, capsys) -> None:
    args = parse("verify", signed_dir / "report.pdf", "--trust", keys.ca_cert, "--json")
    assert verify(args) == EXIT_OK
    summary = json.loads(capsys.readouterr().out)
    assert summary.pop("history") is None  # no database beside the report
    assert summary == verify_report(signed_dir / "report.pdf", trust=[keys.ca_cert]).summary()


def test_verify_command_bad_input_raises_for_exit_2(tmp_path: Path) -> None:
    with pytest.raises(VerificationInputError):  # auditkit.cli.main: one line on stderr, exit 2
        verify(parse("verify", tmp_path / "absent"))


def test_plan_signing_then_sign(report_dir: Path, keys: GeneratedKeys, tmp_path: Path) -> None:
    assert signing_options(parse("run", "p.yaml")) == SigningOptions()
    assert plan_signing(SigningOptions()) is None
    with pytest.raises(SigningError, match="--pades-level needs --sign-key"):
        plan_signing(signing_options(parse("run", "p.yaml", "--pades-level", "B-B")))
    with pytest.raises(SigningError):  # found before any audit runs, not when signing after it
        plan_signing(SigningOptions(key=tmp_path / "absent.p12"))
    args = parse("run", "p.yaml", "--sign-key", keys.key, "--sign-cert", keys.cert,
                 "--sign-chain", keys.ca_cert)
    options = signing_options(args)
    assert options == SigningOptions(key=keys.key, cert=keys.cert, chain=(keys.ca_cert,))
    signed = sign_planned(report_dir, plan_signing(options))
    assert (signed.level, signed.signer_fingerprint) == ("B-B", keys.fingerprint)
    assert verify_report(report_dir, trust=[keys.ca_cert]).bottom_line
