"""Personal links stay out of the web's access log: `duban web` (a real uvicorn, its own process) is asked for
tokenised paths, stopped, and its whole output is searched for the tokens (issue 14: a sign-in link replayed
from the log signed its reader in for 14 days)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from conftest import free_port

from duban.links import make_token

PLAN = "mini-2020"
STARTED = "projects-started/shuangjiang/2020-09-01"
SECRET = "access-log-test-secret-" + "s" * 20


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """The log is uvicorn's business: SQLite is enough."""
    return f"sqlite:///{tmp_path / 'duban.sqlite'}"


def test_the_access_log_shows_requests_without_their_tokens(mini_store, store_url, tmp_path):
    port = free_port()
    env = {**os.environ, "DUBAN_DATABASE_URL": store_url, "DUBAN_VAR_DIR": str(tmp_path / "var"),
           "DUBAN_SECRET": SECRET, "DUBAN_BASE_URL": f"http://127.0.0.1:{port}", "DUBAN_CONFIG": os.devnull,
           "PYTHONIOENCODING": "utf-8"}
    web = subprocess.Popen([sys.executable, "-m", "duban", "web", "--port", str(port)], env=env, cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    now = datetime.now(UTC)
    login = make_token(secret=SECRET, person_id="sj-head", plan_id=PLAN, now=now)
    feed = make_token(secret=SECRET, person_id="sj-head", plan_id=PLAN, now=now, purpose="ics",
                      valid_for=timedelta(days=400))
    stale = make_token(secret=SECRET, person_id="sj-head", plan_id=PLAN, now=now - timedelta(days=30))
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert web.poll() is None and time.time() < deadline, "duban web did not start"
            time.sleep(0.1)
        with httpx.Client(base_url=base) as browser:
            assert browser.get(f"/login/{login}", follow_redirects=False).status_code == 303
            csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/").text).group(1)
            report = browser.post(f"/do/report/{STARTED}", params={"csrf": csrf}, data={"value": "100", "csrf": csrf},
                                  files=[("upload", ("a.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf"))])
            assert report.status_code == 303
        assert httpx.get(f"{base}/ics/{feed}.ics").status_code == 200
        assert httpx.get(f"{base}/login/{stale}?next=/").status_code == 403
    finally:
        web.send_signal(signal.SIGINT)  # uvicorn's own way to stop: it finishes and flushes its log
        output = web.communicate(timeout=30)[0].decode("utf-8")
    for secret in (login, feed, stale, csrf, *login.split("."), *feed.split(".")):
        assert secret not in output, "a token reached the log"
    for line in ('"GET /login/[redacted] HTTP/1.1" 303', '"GET /ics/[redacted] HTTP/1.1" 200',
                 '"GET /login/[redacted]?next=/ HTTP/1.1" 403',
                 f'"POST /do/report/{STARTED}?csrf=[redacted] HTTP/1.1" 303'):
        assert line in output, (line, output)
