"""``edge-assembler bundle …`` and ``serve --bundle``: the key rotation runbook end to end with
the CLI as subprocesses (BUNDLES §4.4), and each command's exit codes and output (§5)."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edge_assembler.cli import main
from tests.integration.bundles.conftest import RULES_DOC

SOURCE_DATE_EPOCH = "1790000000"  # 2026-09-21T14:13:20Z


def cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_assembler", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH},
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def verdict(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    (folder / "tests").mkdir(parents=True)
    (folder / "main.toml").write_bytes(RULES_DOC)
    return folder


NOW = "2026-09-22T00:00:00Z"


def test_key_rotation_runbook_end_to_end(tmp_path: Path, src: Path):
    run = tmp_path
    keygen = cli("bundle", "keygen", "--out", "keys/old", "--comment", "ci-2026", cwd=run)
    old_id = ok(keygen).strip()
    new_id = ok(cli("bundle", "keygen", "--out", "keys/new", cwd=run)).strip()
    assert old_id.startswith("ed25519:")
    assert old_id != new_id
    assert stat.S_IMODE((run / "keys/old.key").stat().st_mode) == 0o600
    entry = json.loads((run / "keys/old.pub.json").read_text())
    assert (entry["keyid"], entry["status"], entry["comment"]) == (old_id, "active", "ci-2026")
    ok(cli("bundle", "trust", "keys/old.pub.json", "-o", "old-trust.json", cwd=run))
    ok(cli("bundle", "trust", "keys/new.pub.json", "-o", "new-trust.json", cwd=run))

    # Step 2: sign with both keys (sign adds a signature and keeps the other); nodes that
    # trust only the old key and nodes that trust only the new one both accept it.
    build = ("bundle", "build", src, "--name", "prod-global", "--expires", "14d")
    ok(cli(*build, "--revision", "10", "-o", "r10.tar.gz", "--key", "keys/old.key", cwd=run))
    ok(cli("bundle", "sign", "r10.tar.gz", "--key", "keys/new.key", cwd=run))
    verify = ("bundle", "verify", "--now", NOW, "--json", "--trust")
    for trust, signer in (("old-trust.json", old_id), ("new-trust.json", new_id)):
        result = cli(*verify, trust, "r10.tar.gz", cwd=run)
        doc = verdict(result)
        assert result.returncode == 0, doc
        assert (doc["ok"], doc["revision"], doc["signer_keyids"]) == (True, 10, [signer])

    # The old key is revoked: trust = the new-key node's file plus the old key, revoked.
    ok(cli("bundle", "trust", "--from", "new-trust.json", "keys/old.pub.json",
           "--revoke", old_id, "-o", "rev.json", cwd=run))  # fmt: skip
    revoked = json.loads((run / "rev.json").read_text())
    assert revoked["version"] == 1
    statuses = {k["keyid"]: k["status"] for k in revoked["keys"]}
    assert statuses == {old_id: "revoked", new_id: "active"}
    ok(cli(*build, "--revision", "11", "-o", "r11-old.tar.gz", "--key", "keys/old.key", cwd=run))
    refused = cli(*verify, "rev.json", "r11-old.tar.gz", cwd=run)
    assert refused.returncode == 1
    assert (verdict(refused)["ok"], verdict(refused)["code"]) == (False, "signature_invalid")
    # The dual-signed bundle still passes there: the new key vouches for it.
    assert cli(*verify, "rev.json", "r10.tar.gz", cwd=run).returncode == 0


def run_main(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["bundle", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def keyed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
    assert run_main(capsys, "keygen", "--out", tmp_path / "k")[0] == 0
    assert run_main(capsys, "trust", tmp_path / "k.pub.json", "-o", tmp_path / "trust.json")[0] == 0
    return tmp_path


def test_build_is_deterministic_and_runs_the_compiler(
    keyed: Path, src: Path, capsys: pytest.CaptureFixture[str]
):
    outs = [keyed / "a.tar.gz", keyed / "b.tar.gz"]
    for out in outs:
        code, _, _ = run_main(capsys, "build", src, "--name", "n", "--revision", "3",
                              "--expires", "2026-10-01T00:00:00Z", "-o", out)  # fmt: skip
        assert code == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()

    (src / "broken.toml").write_text("[[rules]]\nid = 7\n")
    code, out, _ = run_main(capsys, "build", src, "--name", "n", "--revision", "4",
                            "--expires", "14d", "-o", keyed / "c.tar.gz")  # fmt: skip
    assert code == 1
    assert out.startswith("refused: rules_invalid: rules/broken.toml: $.rules[0]")
    assert not (keyed / "c.tar.gz").exists()


def test_verify_exit_codes(keyed: Path, src: Path, capsys: pytest.CaptureFixture[str]):
    bundle = keyed / "b.tar.gz"
    run_main(capsys, "build", src, "--name", "n", "--revision", "auto", "--expires", "14d",
             "-o", bundle, "--key", keyed / "k.key")  # fmt: skip
    trust = keyed / "trust.json"
    assert run_main(capsys, "verify", bundle, "--trust", trust, "--now", NOW)[0] == 0
    # Unsigned is refused (1); unreadable input and a bad trust file are usage errors (2).
    run_main(capsys, "build", src, "--name", "n", "--revision", "1", "--expires", "14d",
             "-o", keyed / "unsigned.tar.gz")  # fmt: skip
    code, out, _ = run_main(capsys, "verify", keyed / "unsigned.tar.gz", "--trust", trust)
    assert code == 1
    assert out.startswith("refused: unsigned: ")
    assert run_main(capsys, "verify", keyed / "missing.tar.gz", "--trust", trust)[0] == 2
    (keyed / "bad.json").write_text("{")
    assert run_main(capsys, "verify", bundle, "--trust", keyed / "bad.json")[0] == 2
    # A state file with a higher floor: rollback.
    state = {"names": {"n": {"floor_revision": 10**10}}}
    (keyed / "state.json").write_text(json.dumps(state))
    code, out, _ = run_main(capsys, "verify", bundle, "--trust", trust, "--now", NOW,
                            "--state", keyed / "state.json", "--json")  # fmt: skip
    assert code == 1
    assert json.loads(out)["code"] == "rollback"
    code, out, _ = run_main(capsys, "verify", bundle, "--trust", trust, "--name", "prod-*",
                            "--now", NOW)  # fmt: skip
    assert (code, out.split(":")[1].strip()) == (1, "wrong_name")
    with pytest.raises(SystemExit) as exit_info:
        main(["bundle", "verify", str(bundle)])  # --trust is required
    assert exit_info.value.code == 2


def test_inspect_diff_and_keygen_refusing_to_overwrite(
    keyed: Path, src: Path, capsys: pytest.CaptureFixture[str]
):
    a, b = keyed / "a.tar.gz", keyed / "b.tar.gz"
    run_main(capsys, "build", src, "--name", "n", "--revision", "1", "--expires", "14d", "-o", a,
             "--key", keyed / "k.key")  # fmt: skip
    (src / "main.toml").write_bytes(RULES_DOC.replace(b"duration = 10", b"duration = 12"))
    (src / "extra.json").write_text('{"rules": []}')
    run_main(capsys, "build", src, "--name", "n", "--revision", "2", "--expires", "14d", "-o", b)

    code, out, _ = run_main(capsys, "inspect", a)
    assert code == 0
    assert out.splitlines()[0] == "UNVERIFIED"
    assert "rules/main.toml" in out
    code, out, _ = run_main(capsys, "inspect", a, "--json", "--trust", keyed / "trust.json",
                            "--now", NOW)  # fmt: skip
    doc = json.loads(out)
    assert (doc["verification"], doc["revision"], doc["name"]) == ("VERIFIED", 1, "n")
    assert len(doc["signature_keyids"]) == 1

    code, out, _ = run_main(capsys, "diff", a, b, "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["added"] == ["rules/extra.json"]
    assert doc["changed"] == ["rules/main.toml"]
    assert doc["documents"][0]["changed"] == ["assets:ad"]
    assert run_main(capsys, "diff", a, a)[0] == 0

    code, _, err = run_main(capsys, "keygen", "--out", keyed / "k")
    assert code == 2
    assert "exists" in err


def test_serve_flags_reach_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    code = main(["config", "--origin", "http://127.0.0.1:9", "--bundle", "/srv/b.tar.gz",
                 "--bundle", "https://cdn.example/b.tar.gz", "--trust", "/etc/t.json",
                 "--state-dir", str(tmp_path)])  # fmt: skip
    out, _ = capsys.readouterr()
    assert code == 0
    bundles = json.loads(out)["bundles"]
    assert bundles["sources"] == ["/srv/b.tar.gz", "https://cdn.example/b.tar.gz"]
    assert (bundles["trust"], bundles["state_dir"]) == ("/etc/t.json", str(tmp_path))
    assert main(["config", "--origin", "http://127.0.0.1:9", "--bundle", "/srv/b"]) == 2
    assert "$.bundles.trust" in capsys.readouterr().err
