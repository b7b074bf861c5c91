"""`duban doctor` against real peers: the store, a loopback SMTP server, a loopback HTTP server."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from conftest import free_port

from duban.config import Settings
from duban.doctor import check_prefect, run_checks


class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    server = HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


def by_name(checks):
    return {c.name: c for c in checks}


def test_a_healthy_deployment(mini_store, smtp_sink, health_server, tmp_path):
    settings = Settings(smtp_url=smtp_sink.url, var_dir=str(tmp_path))
    checks = by_name(run_checks(settings, mini_store, health_server))
    assert all(c.ok for c in checks.values()), checks
    assert checks["migrations"].detail == "at the newest migration"
    assert checks["calendar mini-2020"].detail == "cn calendar covers 2020-2021"
    assert checks["channel email"].detail.endswith("answers")
    assert "local outbox" in checks["channel sms"].detail


def test_problems_are_named(mini_store, tmp_path):
    settings = Settings(smtp_url=f"smtp://127.0.0.1:{free_port()}?from=duban@example.org", var_dir=str(tmp_path))
    checks = by_name(run_checks(settings, mini_store, f"http://127.0.0.1:{free_port()}/api"))
    assert not checks["channel email"].ok and "cannot connect" in checks["channel email"].detail
    assert not checks["prefect"].ok


def test_an_empty_store_needs_migrating(tmp_path):
    from duban.store import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    checks = by_name(run_checks(Settings(var_dir=str(tmp_path)), engine, None))
    assert not checks["migrations"].ok and "duban sync" in checks["migrations"].detail
    assert checks["prefect"].ok


def test_prefect_health(health_server):
    assert check_prefect(health_server).ok
