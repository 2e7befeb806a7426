"""The test suite reaches nothing beyond this machine."""

from __future__ import annotations

import os
import socket

import pytest


def test_connections_beyond_the_loopback_address_are_refused(pytestconfig: pytest.Config) -> None:
    from pytest_socket import SocketConnectBlockedError

    allowed = pytestconfig.getoption("allow_hosts")
    assert allowed, "pytest-socket's --allow-hosts is not set: the tests could reach the network"
    assert set(allowed.split(",")) <= {"127.0.0.1", "::1", "localhost"}
    with pytest.raises(SocketConnectBlockedError):  # refused before a packet leaves
        socket.create_connection(("192.0.2.1", 9), timeout=0.1)  # TEST-NET-1: documentation only


def test_the_hugging_face_libraries_are_offline() -> None:
    assert os.environ["HF_HUB_OFFLINE"] == os.environ["TRANSFORMERS_OFFLINE"] == "1"
