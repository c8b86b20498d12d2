"""Frames between the parent and a sandbox worker: a 4-byte big-endian length, then JSON.

JSON, not pickle, in both directions: the worker runs untrusted code, so whatever it sends
must be plain data the parent parses, never objects the parent would rebuild."""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """The other side closed the pipe or sent something that is not a frame."""


class PeerClosed(ProtocolError):
    """End of file: the other side exited (or was killed)."""


def encode(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )
    return HEADER.pack(len(body)) + body


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FrameReader:
    """Buffered frame reader over a raw pipe fd, with an optional deadline."""

    def __init__(self, fd: int, max_frame: int) -> None:
        self.fd = fd
        self.max_frame = max_frame
        self._buffer = bytearray()

    def read(self, deadline: float | None = None) -> dict[str, Any] | None:
        """The next frame, or None when the deadline (time.monotonic()) passed first."""
        while True:
            if len(self._buffer) >= HEADER.size:
                (size,) = HEADER.unpack_from(self._buffer)
                if size > self.max_frame:
                    raise ProtocolError(f"frame of {size} bytes is over the {self.max_frame} cap")
                end = HEADER.size + size
                if len(self._buffer) >= end:
                    body = bytes(self._buffer[HEADER.size : end])
                    del self._buffer[:end]
                    try:
                        message = json.loads(body)
                    except ValueError as exc:
                        raise ProtocolError("frame is not JSON") from exc
                    if not isinstance(message, dict):
                        raise ProtocolError("frame is not a JSON object")
                    return message
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                ready, _, _ = select.select([self.fd], [], [], left)
                if not ready:
                    return None
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                raise PeerClosed("end of file")
            self._buffer += chunk
