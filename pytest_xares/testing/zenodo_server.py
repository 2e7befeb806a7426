"""A stand-in for Zenodo on 127.0.0.1: records' metadata and files, with faults to inject.

It serves the API paths the downloader uses (``/api/records/{id}`` and
``/api/records/{id}/files/{key}/content``, with ``Range``), counts every request, and can drop a
connection mid-file, answer 429 (with or without ``Retry-After``) or 5xx, flip a byte, stall,
ignore ``Range``, or send slowly. The package's tests and ``benchmarks/download.py`` use it; so can tests of your own
integrations::

    with ZenodoServer() as server:
        server.add_record(1, {"a.tar": b"..."})
        server.inject(1, "a.tar", Fault(drop_after=100))   # the first request of a.tar breaks off
        Zenodo(server.url).download_record(1, folder)
        assert server.count("a.tar") == 2
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_PATH = re.compile(r"^/api/records/(\d+)(?:/files/([^/]+)/content)?$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Fault:
    """What goes wrong with one request (faults of a file are used up in order, one per request)."""

    status: int | None = None  # answer with this status instead (429, 500, 503, …)
    retry_after: str | None = None  # with this Retry-After header
    drop_after: int | None = None  # send this many bytes of the body, then close the connection
    corrupt: bool = False  # flip the first byte sent
    stall: float = 0.0  # seconds of silence before answering
    ignore_range: bool = False  # answer a Range request with the whole file, as simple servers do


@dataclass(frozen=True)
class Hit:
    record: int
    key: str | None  # None for the metadata
    range: str | None  # the Range header sent
    status: int
    sent: int  # body bytes sent


@dataclass
class _File:
    data: bytes | Path
    size: int
    md5: str


class ZenodoServer:
    """Records served from memory (bytes) or disk (paths); ``rate`` (bytes/s) makes it slow."""

    def __init__(self, rate: float | None = None, links_base: str | None = None) -> None:
        self.rate = rate
        self.links_base = links_base  # serve links to another host, as a mirror copying zenodo.org's answers
        self.hits: list[Hit] = []
        self._records: dict[int, dict[str, _File]] = {}
        self._faults: dict[tuple[int, str | None], list[Fault]] = defaultdict(list)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._http.daemon_threads = True
        self._http.zenodo = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def __enter__(self) -> ZenodoServer:
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), name="fake-zenodo", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def add_record(self, record_id: int, files: Mapping[str, bytes | Path], wrong_md5: Iterable[str] = ()) -> None:
        """Serve ``files`` as a record; those named in ``wrong_md5`` are listed with a checksum they do not have."""
        served, wrong = {}, set(wrong_md5)
        for key, data in files.items():
            digest = hashlib.md5(data if isinstance(data, bytes) else data.read_bytes()).hexdigest()
            size = len(data) if isinstance(data, bytes) else data.stat().st_size
            served[key] = _File(data, size, hashlib.md5(digest.encode()).hexdigest() if key in wrong else digest)
        self._records[record_id] = served

    def inject(self, record_id: int, key: str | None, *faults: Fault) -> None:
        """Faults for the next requests of a file (``key``) or of the metadata (``key=None``)."""
        with self._lock:
            self._faults[(record_id, key)].extend(faults)

    def count(self, key: str | None = None, status: int | None = None, record: int | None = None) -> int:
        """Requests of a file (``key``), or of metadata (``key=None``), optionally with one status.

        A request is recorded once its answer is sent, which can be a moment after the client has
        read it: requests still being answered are waited for (a second at most)."""
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=1.0)
        return sum(
            1
            for h in self.hits
            if h.key == key and (status is None or h.status == status) and (record is None or h.record == record)
        )

    def metadata(self, record_id: int) -> dict[str, Any]:
        base = self.links_base or self.url
        return {
            "id": record_id,
            "metadata": {"title": f"record {record_id}"},
            "files": [
                {
                    "key": key,
                    "size": f.size,
                    "checksum": f"md5:{f.md5}",
                    "links": {"self": f"{base}/api/records/{record_id}/files/{urllib.parse.quote(key)}/content"},
                }
                for key, f in self._records[record_id].items()
            ],
        }

    # Serving ---------------------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        match = _PATH.match(urllib.parse.urlsplit(handler.path).path)
        record_id = int(match.group(1)) if match else -1
        key = urllib.parse.unquote(match.group(2)) if match and match.group(2) else None
        requested = handler.headers.get("Range")
        with self._lock:
            faults = self._faults.get((record_id, key))
            fault = faults.pop(0) if faults else Fault()
            self._in_flight += 1
        try:
            status, sent = self._answer(handler, record_id, key, requested, fault, match is not None)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()
        with self._lock:
            self.hits.append(Hit(record_id, key, requested, status, sent))

    def _answer(
        self, handler: _Handler, record_id: int, key: str | None, requested: str | None, fault: Fault, matched: bool
    ) -> tuple[int, int]:
        time.sleep(fault.stall)
        known = self._records.get(record_id)
        if not matched or known is None or (key is not None and key not in known):
            status, sent = 404, _answer(handler, 404, b'{"status": 404, "message": "PID does not exist."}')
        elif fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            status, sent = fault.status, _answer(handler, fault.status, b'{"message": "injected"}', headers)
        elif key is None:
            status, sent = 200, _answer(handler, 200, json.dumps(self.metadata(record_id)).encode())
        else:
            status, sent = self._send_file(handler, known[key], requested, fault)
        return status, sent

    def _send_file(self, handler: _Handler, file: _File, requested: str | None, fault: Fault) -> tuple[int, int]:
        start, status, headers = 0, 200, {}
        wanted = None if fault.ignore_range else _RANGE.match(requested or "")
        if wanted:
            start = int(wanted.group(1))
            if start >= file.size:
                return 416, _answer(handler, 416, b"", {"Content-Range": f"bytes */{file.size}"})
            status, headers = 206, {"Content-Range": f"bytes {start}-{file.size - 1}/{file.size}"}
        handler.send_response(status)
        handler.send_header("Content-Length", str(file.size - start))
        handler.send_header("Content-Type", "application/octet-stream")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        limit = file.size - start if fault.drop_after is None else min(fault.drop_after, file.size - start)
        sent = 0
        try:
            for chunk in _chunks(file.data, start, limit, _CHUNK if self.rate is None else 16_384):
                if fault.corrupt and sent == 0:
                    chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                handler.wfile.write(chunk)
                sent += len(chunk)
                if self.rate is not None:
                    time.sleep(len(chunk) / self.rate)
            if fault.drop_after is not None:
                handler.close_connection = True
                handler.connection.shutdown(socket.SHUT_RDWR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return status, sent


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeZenodo/1"

    def do_GET(self) -> None:
        try:
            self.server.zenodo._serve(self)  # type: ignore[attr-defined]
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on a stalled or slow answer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


def _answer(handler: _Handler, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> int:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)
    return len(body)


def _chunks(data: bytes | Path, start: int, length: int, size: int) -> Iterable[bytes]:
    if isinstance(data, bytes):
        for offset in range(start, start + length, size):
            yield data[offset : min(offset + size, start + length)]
        return
    with open(data, "rb") as handle:
        handle.seek(start)
        while length > 0 and (block := handle.read(min(size, length))):
            length -= len(block)
            yield block
