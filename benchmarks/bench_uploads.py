"""Hostile and heavy uploads against a real uvicorn: what the server reads, writes and holds in memory.

The server runs in its own process (`duban.web.server`, one uvicorn worker) on the shipped plan, as in
bench_web.py. Figures: how much of the body the client had sent when the answer came (the server read at
most that), the server's /proc/PID/io wchar (bytes it wrote to files: a form parser's spool, evidence) and
/proc/PID/status VmHWM (its peak resident memory).

    python benchmarks/bench_uploads.py [--mb 100] [--report-mb 18] [--files 1] [--parallel 4]

Scenarios:
- smuggled: `Content-Length: 100` and `Transfer-Encoding: chunked`, then --mb MB of chunks, no session;
- anonymous form: an honest multipart form of --mb MB (declared in Content-Length), no session;
- reports: --parallel signed-in officials each report an item with --files PDFs of --report-mb MB at once.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_web import free_port, prepare, sign_in, start_server

CHUNK = 64 * 1024
BOUNDARY = "----dubanbench"


def proc_io(pid: int) -> dict[str, int]:
    """The server's I/O counters."""
    lines = Path(f"/proc/{pid}/io").read_text().splitlines()
    return {k: int(v) for k, v in (line.split(": ") for line in lines)}


def peak_rss_mb(pid: int) -> float:
    """The server's peak resident memory so far (VmHWM), in MB."""
    found = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) / 1024 if found else 0.0


def folder_bytes(folder: Path) -> int:
    """Bytes in the files under a folder now."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def hostile(port: int, head: bytes, body_chunks, pid: int) -> dict:
    """Send head, then the body from a thread, and read the response; what the server read and wrote meanwhile."""
    before = proc_io(pid)
    sent = [0]
    began = time.perf_counter()
    connection = socket.create_connection(("127.0.0.1", port), timeout=120)
    connection.sendall(head)

    def send_body() -> None:
        try:
            for chunk in body_chunks:
                connection.sendall(chunk)
                sent[0] += len(chunk)
        except OSError:
            pass  # the server answered and closed: the rest is not sent

    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    answer = b""
    while b"\r\n" not in answer:
        piece = connection.recv(4096)
        if not piece:
            break
        answer += piece
    answered = time.perf_counter() - began
    sent_when_answered = sent[0]
    connection.close()
    sender.join(30)
    time.sleep(0.5)  # let the server finish what it was doing before reading its counters
    after = proc_io(pid)
    status = answer.split(b" ", 2)[1].decode() if answer.count(b" ") >= 2 else "(closed)"
    return {"status": status, "seconds": answered, "client_sent_mb": sent_when_answered / 1048576,
            "server_wrote_mb": (after["wchar"] - before["wchar"]) / 1048576}


def chunked(total: int):
    """An honest multipart form of about `total` bytes, sent in chunks (Transfer-Encoding: chunked)."""
    start, count, end, _ = multipart_parts(total)

    def frame(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    yield frame(start)
    piece = frame(b"0" * CHUNK)
    for _ in range(count):
        yield piece
    yield frame(end) + b"0\r\n\r\n"


def multipart_parts(total: int, csrf: str = "x"):
    """An honest multipart form: a csrf field and one PDF of about `total` bytes, and its length."""
    start = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n"
             f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"big.pdf\"\r\n"
             "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n").encode()
    end = f"\r\n--{BOUNDARY}--\r\n".encode()
    count = total // CHUNK
    return start, count, end, len(start) + count * CHUNK + len(end)


def anonymous_form(port: int, total: int, pid: int) -> dict:
    start, count, end, length = multipart_parts(total)
    head = (f"POST /do/report/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n").encode()
    return hostile(port, head, [start, *(b"0" * CHUNK for _ in range(count)), end], pid)


def smuggled(port: int, total: int, pid: int) -> dict:
    head = ("POST /do/report/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n"
            f"Transfer-Encoding: chunked\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n").encode()
    return hostile(port, head, chunked(total), pid)


def reports(base: str, plan: str, items: dict, parallel: int, size: int, files: int, pid: int,
            evidence: Path) -> dict:
    """`parallel` officials each report an item with `files` PDFs of `size` bytes at the same moment."""
    people = sorted(items, key=lambda p: -len(items[p]))[:parallel]
    sessions = [(*sign_in(base, plan, person), items[person]) for person in people]
    for client, csrf, mine in sessions:  # warm up: one small report each, so the baseline has every code path
        occurrence, _ = mine.pop()
        client.post(f"/do/report/{occurrence}?csrf={csrf}", data={"csrf": csrf, "value": "100"},
                    files=[("upload", ("warm.pdf", b"%PDF-1.4\nwarm\n", "application/pdf"))])
    baseline = peak_rss_mb(pid)
    before = proc_io(pid)
    files_before = folder_bytes(evidence)
    barrier = threading.Barrier(len(sessions))
    codes: list[int] = []

    def one(client: httpx.Client, csrf: str, mine: list) -> None:
        occurrence, _ = mine.pop()
        pdfs = [b"%PDF-1.4\n" + os.urandom(size - 20) + b"\n%%EOF\n" for _ in range(files)]
        barrier.wait()
        response = client.post(f"/do/report/{occurrence}?csrf={csrf}", data={"csrf": csrf, "value": "100"},
                               files=[("upload", (f"scan{n}.pdf", pdf, "application/pdf"))
                                      for n, pdf in enumerate(pdfs)], timeout=600)
        codes.append(response.status_code)

    began = time.perf_counter()
    threads = [threading.Thread(target=one, args=s) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    after = proc_io(pid)
    return {"codes": sorted(codes), "seconds": elapsed, "rss_before_mb": baseline, "rss_peak_mb": peak_rss_mb(pid),
            "server_wrote_mb": (after["wchar"] - before["wchar"]) / 1048576,
            "evidence_added_mb": (folder_bytes(evidence) - files_before) / 1048576}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=100, help="size of the hostile bodies")
    parser.add_argument("--report-mb", type=float, default=18, help="size of each report's PDF")
    parser.add_argument("--files", type=int, default=1, help="PDFs in each report (at most 10)")
    parser.add_argument("--parallel", type=int, default=4)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="duban-bench-uploads-"))
    url = f"sqlite:///{folder / 'duban.sqlite'}"
    os.environ["TMPDIR"] = str(folder / "tmp")  # where a form parser would spool, for the server to inherit
    (folder / "tmp").mkdir()
    plan, items = prepare(url)
    port = free_port()
    server = start_server(url, str(folder / "var"), port)
    base = f"http://127.0.0.1:{port}"
    try:
        for name, run in (("smuggled (CL 100 + chunked)", lambda: smuggled(port, options.mb << 20, server.pid)),
                          ("anonymous honest form", lambda: anonymous_form(port, options.mb << 20, server.pid))):
            r = run()
            print(f"{name:<28} {options.mb} MB: HTTP {r['status']} after {r['seconds']:.2f} s; client had sent "
                  f"{r['client_sent_mb']:.1f} MB; server wrote {r['server_wrote_mb']:.1f} MB")
        r = reports(base, plan, items, options.parallel, int(options.report_mb * 1048576), options.files, server.pid,
                    folder / "var" / "evidence")
        print(f"{options.parallel} parallel reports of {options.files} x {options.report_mb:g} MB: "
              f"HTTP {r['codes']} in {r['seconds']:.2f} s; peak RSS {r['rss_before_mb']:.0f} -> "
              f"{r['rss_peak_mb']:.0f} MB; server wrote {r['server_wrote_mb']:.1f} MB, "
              f"evidence folder +{r['evidence_added_mb']:.1f} MB")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
