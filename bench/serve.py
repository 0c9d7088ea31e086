"""Serve benchmark inputs from a SampleSource on 127.0.0.1 (a static route over the generated photo sets)."""
from __future__ import annotations

import contextlib
import tempfile
from typing import Iterator

from include.sample_source.server import Request, Response, SampleSource

from bench.inputs import WORK, PhotoSet


def photo_handler(sets: dict[str, PhotoSet]):
    """``/<set>/<index>.jpg`` -> that item's bytes; anything else 404."""

    def handle(req: Request) -> Response:
        name, _, leaf = req.path.strip("/").partition("/")
        photo_set = sets.get(name)
        stem = leaf.removesuffix(".jpg")
        if photo_set is None or not stem.isdigit() or int(stem) >= photo_set.count:
            return Response(404, b"not found", content_type="text/plain")
        return Response(200, photo_set.item(int(stem)), content_type="image/jpeg")

    return handle


@contextlib.contextmanager
def serving(sets: list[PhotoSet]) -> Iterator[SampleSource]:
    """A SampleSource with only the bench route, stopped on exit."""
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK, prefix="source-") as data_dir:
        source = SampleSource(data_dir, port=0, s3_port=None)
        source.mount("/bench", photo_handler({s.recipe.name: s for s in sets}))
        source.start(catalogs=[])
        try:
            yield source
        finally:
            source.stop()
