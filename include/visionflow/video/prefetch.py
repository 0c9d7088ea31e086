"""Decode ahead in a thread: how the video writers overlap decoding with their own work."""
from __future__ import annotations

import contextlib
import queue
import threading
from typing import Iterator


def in_thread(items: Iterator, depth: int = 8, name: str = "vf-decode") -> Iterator:
    """Run a producer (decode, scale) in its own thread, so it overlaps with the consumer's encoding or
    detection, as the ffmpeg CLI's threaded pipeline does. PyAV and the codecs release the GIL while they
    work. A bounded queue keeps at most ``depth`` items in memory. Close the iterator (``contextlib.closing``)
    to stop the producer early; its exception is re-raised in the consumer."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    done, stop = object(), threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                buffer.put(item)
            buffer.put(done)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, which re-raises it
            buffer.put(err)

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while (item := buffer.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue, then let it finish
            with contextlib.suppress(queue.Empty):
                buffer.get(timeout=0.05)
        worker.join()
