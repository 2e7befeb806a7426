"""A task's data folder and what identifies its content.

Beside a record's shards lies its Zenodo metadata (``zenodo-record.json``: the ``/api/records/{id}``
answer, with an md5 checksum per file), so the content can be identified, and verified, without
reading hundreds of gigabytes or asking the network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RECORD_FILE = "zenodo-record.json"


def record_checksums(folder: Path) -> dict[str, str]:
    """File name → ``md5:<hex>`` from the record metadata kept in ``folder`` (empty if none)."""
    try:
        record = json.loads((folder / RECORD_FILE).read_text("utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return {f["key"]: f["checksum"] for f in record.get("files", ()) if "key" in f and "checksum" in f}


def write_record(folder: Path, record: dict[str, Any]) -> None:
    (folder / RECORD_FILE).write_text(json.dumps(record, indent=1), "utf-8")


def content_id(shards: list[Path], checksums: dict[str, str]) -> list[tuple[str, str]]:
    """What identifies the shards' content: the record's checksum where known, else size and mtime.

    A shard never listed in the metadata (an X-ARES ``env/`` folder, say) is identified by its
    size and modification time, as ``make`` does: reading every byte on every run would cost more
    than the evaluation.
    """
    ids = []
    for shard in shards:
        known = checksums.get(shard.name)
        if known is None:
            stat = shard.stat()
            known = f"stat:{stat.st_size}:{stat.st_mtime_ns}"
        ids.append((shard.name, known))
    return ids
