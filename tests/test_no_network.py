"""The suite runs offline: pytest-socket refuses every Python internet socket (pyproject.toml)."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketBlockedError


def test_an_internet_socket_is_refused() -> None:
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)


def test_unix_sockets_stay_allowed_for_asyncio_and_multiprocessing() -> None:
    a, b = socket.socketpair(socket.AF_UNIX)
    a.close()
    b.close()
