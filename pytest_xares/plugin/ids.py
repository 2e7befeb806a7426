"""What the suite's node ids say: whose encoder, which task, which method or check."""

from __future__ import annotations


def suite_id(nodeid: str) -> tuple[str | None, str, str] | None:
    """(encoder label, task name or ``encoder``, method or check) of a suite item's id:
    ``xares::esc50::mlp``, or in a run of several encoders ``xares::<label>::esc50::mlp``;
    ``None`` for any other id. xdist's loadgroup suffix (``mlp@esc50``) is left out."""
    parts = nodeid.split("@", 1)[0].split("::")
    if parts[0] != "xares" or len(parts) not in (3, 4):
        return None
    return (None, parts[1], parts[2]) if len(parts) == 3 else (parts[1], parts[2], parts[3])
