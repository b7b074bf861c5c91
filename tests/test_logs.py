"""Structured logs: DUBAN_LOG_FORMAT=json gives one JSON object per line with the record's fields."""

import json
import subprocess
import sys

from conftest import DATA


def test_sync_logs_one_json_line_with_counts(tmp_path):
    env = {"DUBAN_LOG_FORMAT": "json", "DUBAN_DATABASE_URL": f"sqlite:///{tmp_path / 'd.sqlite'}",
           "DUBAN_CONFIG": str(tmp_path / "none.toml"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "duban", "sync", str(DATA / "mini.yaml"), "--contacts",
                             str(DATA / "mini_contacts.csv")], env=env, capture_output=True, text=True, check=True)
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    [record] = [r for r in records if r.get("event") == "sync"]
    assert record["plan"] == "mini-2020" and record["level"] == "info" and record["logger"] == "duban.sync"
    assert record["counts"]["occurrences"]["created"] == 29
