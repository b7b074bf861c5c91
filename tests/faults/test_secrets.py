"""Secrets stay secret: private files, masked channel URLs in `duban doctor`, a strong link secret, no links in logs."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import DATA, ROOT, free_port
from typer.testing import CliRunner

from duban.cli import _load_commands
from duban.cli.common import app

runner = CliRunner()
_load_commands()

PDF = b"%PDF-1.4\n%%EOF\n"
TOKEN = re.compile(r"/(login|ics)/[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]+|/s/[2-9a-z]{8,}")  # signed or short links
DINGTALK_TOKEN = "d1a2b3c4" * 8
WECOM_KEY = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
SMTP_PASSWORD = "Mail-Pa55word-7731"
ALIYUN_SECRET = "AliyunKeySecret0123456789abcdef"


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    """A deployment whose store folder and var folder do not exist yet, under umask 022 (a common default)."""
    values = {"DUBAN_DATABASE_URL": f"sqlite:///{tmp_path / 'store' / 'duban.sqlite'}",
              "DUBAN_VAR_DIR": str(tmp_path / "var"), "DUBAN_CATALOG": str(DATA / "mini.yaml"),
              "DUBAN_CONTACTS": str(DATA / "mini_contacts.csv"), "DUBAN_CONFIG": str(tmp_path / "none.toml")}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    for key in ("DUBAN_SECRET", "DUBAN_SMTP_URL", "DUBAN_SMS_URL", "DUBAN_DINGTALK_URL", "DUBAN_WECOM_URL",
                "DUBAN_LOG_FORMAT"):
        monkeypatch.delenv(key, raising=False)
    old = os.umask(0o022)
    yield tmp_path
    os.umask(old)


def duban(*args: object, code: int = 0, stdout_only: bool = False) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.stdout if stdout_only else result.output  # output: stdout and stderr, as a terminal shows them


def modes(*roots: Path) -> dict[str, str]:
    """Every file and folder under the roots, with its permission bits."""
    found = {}
    for root in roots:
        for path in [root, *root.rglob("*")]:
            found[str(path.relative_to(root.parent))] = oct(stat.S_IMODE(path.stat().st_mode))
    return found


# --- files: the store, the outbox, evidence and the link secret are 0600 in 0700 folders ---

def test_store_outbox_evidence_and_secret_are_private_after_a_real_run(prefect_harness, deployment):
    (deployment / "开工.pdf").write_bytes(PDF)
    duban("sync")
    duban("run", "daily", "--as-of", "2020-09-15T09:00+08:00")
    duban("done", "projects-started/shuangjiang/2020-09-01", "--by", "sj-head", "--value", "100",
          "--evidence", deployment / "开工.pdf", "--as-of", "2020-09-15 10:00")
    var = deployment / "var"
    seen = modes(deployment / "store", var)
    files = {p: m for p, m in seen.items() if (deployment / p).is_file()}
    folders = {p: m for p, m in seen.items() if (deployment / p).is_dir()}
    # What the run made: the store (and its -wal/-shm), the secret, a Maildir of emails, the SMS file, evidence.
    assert "store/duban.sqlite" in files and "var/secret" in files and "var/outbox/sms.jsonl" in files
    assert [p for p in files if p.startswith("var/outbox/maildir/new/")], files
    assert [p for p in files if p.startswith("var/evidence/")], files
    assert {p: m for p, m in files.items() if m != "0o600"} == {}
    assert {p: m for p, m in folders.items() if m != "0o700"} == {}


def test_a_folder_that_exists_keeps_its_mode(deployment):
    (deployment / "store").mkdir(mode=0o755)
    os.chmod(deployment / "store", 0o750)
    duban("sync")
    assert stat.S_IMODE((deployment / "store").stat().st_mode) == 0o750
    assert stat.S_IMODE((deployment / "store" / "duban.sqlite").stat().st_mode) == 0o600


# --- duban doctor: robot tokens, passwords and keys never printed ---

def test_doctor_masks_robot_tokens_passwords_and_keys(deployment, monkeypatch):
    duban("sync")
    secrets = [DINGTALK_TOKEN, WECOM_KEY, SMTP_PASSWORD, ALIYUN_SECRET, "SECrobotsign0123456789"]
    monkeypatch.setenv("DUBAN_DINGTALK_URL", f"dingtalk://SECrobotsign0123456789@{DINGTALK_TOKEN}/")
    monkeypatch.setenv("DUBAN_WECOM_URL", f"wecombot://{WECOM_KEY}")
    monkeypatch.setenv("DUBAN_SMTP_URL", f"smtp://duban%40x.gov.cn:{SMTP_PASSWORD}@127.0.0.1:{free_port()}"
                                         f"?from=duban@x.gov.cn")
    monkeypatch.setenv("DUBAN_SMS_URL", f"aliyun://LTAIkeyid:{ALIYUN_SECRET}@dysmsapi.aliyuncs.com"
                                        f"?sign=x&template=SMS_1")
    monkeypatch.setenv("DUBAN_SECRET", "s" * 40)
    table = duban("doctor", code=1)  # the SMTP server does not answer: one check fails, and says so
    as_json = duban("doctor", "--format", "json", code=1)
    for text in (table, as_json):
        assert [s for s in secrets if s in text] == [], text
    assert "dingtalk://" in table and "wecombot://" in table and "cannot connect" in table


def test_doctor_masks_a_robot_key_given_without_its_scheme(deployment, monkeypatch):
    monkeypatch.setenv("DUBAN_WECOM_URL", WECOM_KEY)  # a key pasted alone: not a URL Apprise knows
    monkeypatch.setenv("DUBAN_SECRET", "s" * 40)
    output = duban("doctor", code=1)
    assert "wecom_url" in output and WECOM_KEY not in output


# --- DUBAN_SECRET: at least 32 bytes; doctor flags a short one, web refuses to start ---

def doctor_checks() -> dict:
    result = runner.invoke(app, ["doctor", "--format", "json"])
    return {c["name"]: c for c in json.loads(result.stdout)}


def test_doctor_flags_a_short_secret(deployment, monkeypatch):
    duban("sync")
    monkeypatch.setenv("DUBAN_SECRET", "county-secret-2020")
    check = doctor_checks()["secret"]
    assert not check["ok"] and "18 bytes" in check["detail"] and "32" in check["detail"]
    monkeypatch.setenv("DUBAN_SECRET", "督办" * 6)  # 36 bytes in UTF-8
    assert doctor_checks()["secret"]["ok"]


def test_doctor_flags_a_store_others_can_read(deployment):
    duban("sync")
    os.chmod(deployment / "store" / "duban.sqlite", 0o644)
    check = doctor_checks()["private files"]
    assert not check["ok"] and "duban.sqlite" in check["detail"] and "chmod" in check["detail"]


def test_web_refuses_a_short_secret_in_one_line(deployment):
    blocker = socket.create_server(("127.0.0.1", 0))  # were the check missing, uvicorn would fail on this port
    port = blocker.getsockname()[1]
    env = {**os.environ, "DUBAN_SECRET": "short-secret", "PYTHONPATH": str(ROOT / "src")}
    try:
        done = subprocess.run([sys.executable, "-m", "duban", "web", "--port", str(port)], env=env, cwd=deployment,
                              capture_output=True, text=True, timeout=120)
    finally:
        blocker.close()
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "DUBAN_SECRET" in lines[0] and "12 bytes" in lines[0] and "32" in lines[0], lines
    assert not (deployment / "store").exists()  # refused before anything was touched


def test_a_short_stored_secret_is_refused_and_a_generated_one_is_strong(tmp_path):
    from duban.config import Settings
    from duban.links import require_strong_secret, secret_for

    settings = Settings(var_dir=str(tmp_path / "var"))
    assert len(secret_for(settings).encode()) >= 32
    require_strong_secret(settings)
    (tmp_path / "var" / "secret").write_text("tiny\n", encoding="ascii")
    with pytest.raises(ValueError, match=r"var/secret.*4 bytes"):
        require_strong_secret(settings)


# --- personal links never reach duban's logs or the run's artifact ---

class EchoGateway(BaseHTTPRequestHandler):
    """An SMS gateway that refuses links it does not know and quotes them back, as providers' error texts do."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        sent = json.loads(body)
        links = re.findall(r"https?://[^\s\"]+", json.dumps([sent["content"], sent["params"]], ensure_ascii=False))
        answer = json.dumps({"error": f"短信内容含有未报备链接 {' '.join(links)}"}, ensure_ascii=False).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/send"
    server.shutdown()
    server.server_close()


class Keep(logging.Handler):
    """Keeps the records of duban's loggers."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_links_stay_out_of_run_output_logs_and_artifacts(prefect_harness, deployment, monkeypatch, echo_gateway):
    from prefect.artifacts import Artifact

    monkeypatch.setenv("DUBAN_SMS_URL", f"{echo_gateway}?params=name,first,link")  # a provider template with {link}
    monkeypatch.setenv("DUBAN_SECRET", "s" * 40)
    kept, logger = Keep(), logging.getLogger("duban")
    level = logger.level
    logger.addHandler(kept)
    logger.setLevel(logging.INFO)  # setLevel, not an attribute: loggers cache whether a level is enabled
    try:
        output = duban("run", "daily", "--as-of", "2020-09-15T09:00+08:00")
    finally:
        logger.removeHandler(kept)
        logger.setLevel(level)
    rows = json.loads(duban("outbox", "--state", "given_up", "--format", "json", stdout_only=True))
    errors = [row["last_error"] or "" for row in rows]
    assert errors and all(TOKEN.search(error) for error in errors), errors  # the gateway did quote the links back
    artifact = Artifact.get("daily-mini-2020")
    logged = "\n".join(record.getMessage() for record in kept.records)
    assert "error: sms" in output and "### failures" in artifact.data and "error: sms" in logged
    for text in (output, artifact.data, logged):
        assert not TOKEN.search(text), text
    assert "/login/***" in output or "/s/***" in output
