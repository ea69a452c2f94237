"""The `hub` command as a person runs it: real processes, a fresh SQLite file, real keys."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

HUB = [sys.executable, "-m", "hub.cli"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    e.update(
        HUB_DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}", HUB_KEY_DIR=str(tmp_path / "keys")
    )
    return e


def hub(env: dict[str, str], *args: str, cwd: Path | None = None, ok: bool = True) -> str:
    r = subprocess.run([*HUB, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if ok:
        assert r.returncode == 0, f"hub {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout + r.stderr


def test_help_explains_every_command(env):
    out = hub(env, "--help")
    for command in (
        "db",
        "serve",
        "worker",
        "keys",
        "certs",
        "agencies",
        "routing",
        "deliveries",
        "log",
        "demo",
    ):
        assert command in out
    assert "upgrade" in hub(env, "db", "--help")
    assert "--endpoint" in hub(env, "agencies", "add", "--help")


def test_keys_agencies_certificates_and_routing(env, tmp_path):
    hub(env, "db", "upgrade")
    hub(env, "keys", "init")
    hub_keys = list((tmp_path / "keys").glob("hub-*.jwk"))
    assert len(hub_keys) == 1 and stat.S_IMODE(hub_keys[0].stat().st_mode) == 0o600

    out = hub(env, "keys", "generate", "bma", "--out", str(tmp_path / "bma"))
    private, public = tmp_path / "bma" / "bma.private.jwk", tmp_path / "bma" / "bma.public.jwk"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "d" not in json.loads(public.read_text()) and "kid bma/" in out
    hub(
        env,
        "agencies",
        "add",
        "bma",
        "--kind",
        "local_government",
        "--name",
        "กรุงเทพมหานคร",
        "--key",
        str(public),
        "--areas",
        "10",
    )
    refused = hub(
        env,
        "agencies",
        "add",
        "bma",
        "--kind",
        "local_government",
        "--name",
        "x",
        "--key",
        str(public),
        ok=False,
    )
    assert "refused (conflict)" in refused

    certs = tmp_path / "certs"
    hub(env, "certs", "init", "--dir", str(certs))
    hub(env, "certs", "issue", "mea", "--dir", str(certs))
    with_ca = {**env, "HUB_TRUSTED_CA_FILE": str(certs / "ca.pem")}
    hub(
        with_ca,
        "agencies",
        "add",
        "mea",
        "--kind",
        "state_enterprise",
        "--name",
        "การไฟฟ้านครหลวง",
        "--key",
        str(certs / "mea.cert.pem"),
        "--areas",
        "10",
        "--categories",
        "electricity",
    )
    listing = hub(env, "agencies", "list")
    assert "bma" in listing and "mea" in listing and "กรุงเทพมหานคร" in listing

    hub(
        env,
        "routing",
        "add",
        "1003",
        "mea",
        "--category",
        "street_lighting",
        "--note",
        "ไฟทางหนองจอก",
    )
    assert "street_lighting" in hub(env, "routing", "list")
    explained = hub(env, "routing", "explain", "100301", "street_lighting")
    assert explained.startswith("-> mea") and "rule 1" in explained
    assert "-> bma" in hub(env, "routing", "explain", "10", "road")
    hub(env, "routing", "remove", "1")
    assert "refused (not-found)" in hub(env, "routing", "remove", "1", ok=False)
    hub(env, "deliveries", "list")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_once_then_serve_and_verify_the_log(env, tmp_path):
    started = time.monotonic()
    out = hub(env, "demo", "--once", cwd=tmp_path)
    assert time.monotonic() - started < 60  # the promise for the scripted part
    assert "60 of 60 complaints accepted" in out and "/v1/ui/" in out

    port = _free_port()
    server = subprocess.Popen(
        [*HUB, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert "Swagger UI" in httpx.get(f"{base}/v1/ui/").text
        state = tmp_path / "state.json"
        verdict = hub(env, "log", "verify", "--hub", base, "--state", str(state), "--full")
        assert "VERDICT: the log is consistent" in verdict
        assert json.loads(state.read_text())["tree_size"] >= 60
    finally:
        server.terminate()
        server.wait(timeout=10)
