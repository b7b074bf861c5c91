"""Unfinished uploads a killed server left behind are cleared; kept evidence and fresh uploads are not."""

import os
import time

from duban.evidence import EvidenceStore


def test_stale_staging_files_go_and_everything_else_stays(tmp_path):
    store = EvidenceStore(tmp_path / "evidence")
    old = store.stage("旧.pdf", max_bytes=1000)
    old.write(b"%PDF-1.4 half")
    fresh = store.stage("新.pdf", max_bytes=1000)
    fresh.write(b"%PDF-1.4 still coming")
    kept = store.put(_finished(store, b"%PDF-1.4 done"))
    stale_in_subfolder = kept.parent / ".upload-stale"
    stale_in_subfolder.write_bytes(b"x")
    day_ago = time.time() - 2 * 24 * 3600
    for path in (old.path, stale_in_subfolder):
        os.utime(path, (day_ago, day_ago))

    assert store.sweep_staging(modified_before=time.time() - 24 * 3600) == 2

    assert not old.path.exists() and not stale_in_subfolder.exists()
    assert fresh.path.exists() and kept.read_bytes() == b"%PDF-1.4 done"


def test_a_missing_evidence_folder_has_nothing_to_sweep(tmp_path):
    assert EvidenceStore(tmp_path / "none").sweep_staging(modified_before=time.time()) == 0


def _finished(store: EvidenceStore, data: bytes):
    staging = store.stage("kept.pdf", max_bytes=1000)
    staging.write(data)
    return staging.finish()
