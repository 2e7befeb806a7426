"""Downloader throughput against a local fake Zenodo, beside plain single-stream copies of the same
files in the same run, and the disk peak during a download (a file must never be stored twice).

    python benchmarks/download.py                   # 200 MB in 8 files, 3 rounds
    python benchmarks/download.py --megabytes 1000 --files 4 --rounds 5

The server (``pytest_xares.testing.zenodo_server``, the tests' fake Zenodo) runs in its own process,
serving files from disk, so client and server do not share an interpreter lock. Each round runs
every contender once on a fresh target folder; the medians are printed. The disk peak is sampled
(every 5 ms) in one more download of its own.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from pytest_xares.data.records import hash_file
from pytest_xares.data.transfer import human_bytes
from pytest_xares.data.zenodo import Zenodo
from pytest_xares.testing.zenodo_server import ZenodoServer

RECORD = 1


def serve(folder: str, urls: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    """The fake Zenodo in a child process, serving every file of ``folder`` as one record."""
    with ZenodoServer() as server:
        server.add_record(RECORD, {p.name: p for p in sorted(Path(folder).iterdir())})
        urls.put(server.url)
        stop.wait()


def write_files(folder: Path, total: int, count: int) -> list[str]:
    folder.mkdir(parents=True)
    for index in range(count):
        with open(folder / f"shard-{index:03d}.tar", "wb") as out:
            left = total // count
            while left:
                block = os.urandom(min(left, 4 << 20))
                out.write(block)
                left -= len(block)
    return sorted(p.name for p in folder.iterdir())


def python_copy(url: str, keys: list[str], target: Path) -> None:
    """urllib read → file, one stream, nothing else: the floor to compare with."""
    for key in keys:
        with (
            urllib.request.urlopen(f"{url}/api/records/{RECORD}/files/{key}/content") as response,
            open(target / key, "wb") as out,
        ):
            shutil.copyfileobj(response, out, 1 << 20)


def curl_copy(url: str, keys: list[str], target: Path) -> None:
    for key in keys:
        subprocess.run(
            ["curl", "-sSf", "-o", str(target / key), f"{url}/api/records/{RECORD}/files/{key}/content"], check=True
        )


def downloader(url: str, keys: list[str], target: Path) -> None:
    Zenodo(url).download_record(RECORD, target)


class DiskPeak(threading.Thread):
    """The most bytes allocated under a folder (every file, hidden partial ones included), sampled."""

    def __init__(self, folder: Path, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.folder, self.interval, self.peak = folder, interval, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, self.allocated())
            time.sleep(self.interval)
        self.peak = max(self.peak, self.allocated())

    def allocated(self) -> int:
        total = 0
        for entry in os.scandir(self.folder):
            try:
                total += entry.stat().st_blocks * 512
            except FileNotFoundError:  # renamed between listing and stat
                pass
        return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary files go (default: the system's)")
    args = parser.parse_args()
    total = args.megabytes * 1_000_000

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="xares-download-bench-") as tmp:
        source = Path(tmp) / "served"
        keys = write_files(source, total, args.files)
        started = time.perf_counter()
        for key in keys:
            hash_file(source / key)
        md5_seconds = time.perf_counter() - started
        context = multiprocessing.get_context("spawn")
        urls, stop = context.Queue(), context.Event()
        server = context.Process(target=serve, args=(str(source), urls, stop))
        server.start()
        url = urls.get(timeout=120)
        contenders = {"python urllib → file (1 stream)": python_copy, "pytest-xares downloader": downloader}
        if shutil.which("curl"):
            contenders["curl (1 stream per file)"] = curl_copy
        seconds: dict[str, list[float]] = {name: [] for name in contenders}
        try:
            for round_ in range(args.rounds):
                for number, (name, fetch) in enumerate(contenders.items()):
                    target = Path(tmp) / f"target-{round_}-{number}"
                    target.mkdir()
                    started = time.perf_counter()
                    fetch(url, keys, target)
                    seconds[name].append(time.perf_counter() - started)
                    shutil.rmtree(target)
            # The disk peak in a run of its own: the sampling thread would slow the timed ones.
            target = Path(tmp) / "target-peak"
            target.mkdir()
            watcher = DiskPeak(target)
            watcher.start()
            downloader(url, keys, target)
            watcher.done.set()
            watcher.join()
        finally:
            stop.set()
            server.join()

    size = total // args.files * args.files
    print(
        f"{human_bytes(size)} in {args.files} files from a local fake Zenodo, {args.rounds} rounds (median, min–max):"
    )
    for name, times in seconds.items():
        rates = [size / t / 1e6 for t in times]
        print(f"  {name:34s} {statistics.median(rates):7.1f} MB/s  ({min(rates):.1f}–{max(rates):.1f})")
    base = statistics.median(size / t for t in seconds["python urllib → file (1 stream)"])
    ours = statistics.median(size / t for t in seconds["pytest-xares downloader"])
    print(f"  downloader / python copy: {ours / base:.2f}")
    print(
        f"  (md5 alone, one core, files in the page cache: {size / md5_seconds / 1e6:.1f} MB/s; "
        f"the downloader also fsyncs each file before renaming it into place; {os.cpu_count()} cores here)"
    )
    print(
        f"disk peak during a download: {human_bytes(watcher.peak)} for {human_bytes(size)} of files "
        f"({watcher.peak / size:.3f}×; the record's files are never stored twice)"
    )


if __name__ == "__main__":
    main()
