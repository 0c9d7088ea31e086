"""Fault injection: URLs that misbehave on purpose, deterministically, for the reliability suite.

A URL names its fault: ``/faults/<kind>/<n>/<name>``. For the transient kinds ``n`` is how many first
requests of that URL fail (later ones succeed) and ``p`` means every request fails; the server's own hit
counter per path decides, so a URL behaves the same way in every run against the same server. For
``redirect_chain`` ``n`` is the number of hops left, for ``slow`` a delay in milliseconds. ``name`` seeds the
picture (``fault_media.py``), so its bytes, MD5 and expected pixels are known before anything is fetched.

``/faults/metadata/<n>-<percent>-<seed>.csv`` is an OpenImages V4 metadata file of ``n`` rows, ``percent`` of
them faulty, kinds drawn by a seeded RNG (``?exclude=a,b`` leaves kinds out); :func:`plan` returns the same
items with the status each should end with. ``/faults/metadata/boxable.csv`` is an empty boxable list;
``/faults/hits`` the requests per path so far (JSON), for a client in another process.
"""
from __future__ import annotations

import base64
import csv
import functools
import gzip
import hashlib
import io
import json
import random
import socket
import struct
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from include.sample_source import fault_media as media
from include.sample_source.server import Request, Response, SampleSource

NAME = "faults"
PREFIX = "/faults"
STALL_SECONDS = 6.0  # longer than any read timeout the suite uses
DRIP_INTERVAL = 0.1  # shorter than any read timeout: only a total deadline ends a drip
DRIP_SECONDS = 60.0
HUGE_BODY_CAP = 512 << 20
REDIRECT_HOPS = 3
CLOSED_PORT = 1  # nothing listens there: a followed private redirect fails fast instead of reaching a service
# Loopback only: with private networks allowed (tests, demo) the redirect is followed and must reach nothing.
PRIVATE_TARGETS = tuple(f"http://{host}:{CLOSED_PORT}/latest/meta-data/"
                        for host in ("127.0.0.1", "localhost", "[::1]", "127.1.2.3", "[::ffff:127.0.0.1]"))
OPENIMAGES_COLUMNS = ["ImageID", "Subset", "OriginalURL", "OriginalLandingURL", "License", "AuthorProfileURL",
                      "Author", "Title", "OriginalSize", "OriginalMD5", "Thumbnail300KURL", "Rotation"]


@dataclass(frozen=True)
class Kind:
    """A way a URL can behave, and the status the OpenImages download must end with once it stops changing."""

    name: str
    expect: str
    weight: int = 2
    transient: bool = False  # drawn as "fail the first n requests" as often as "always fail"
    what: str = ""


MODES = {
    "png16_gray": "16-bit greyscale PNG", "png16_rgb": "16-bit RGB PNG", "cmyk": "CMYK JPEG",
    "palette": "palette PNG", "palette_alpha": "palette PNG with a transparent index", "la": "grey + alpha PNG",
    "rgba": "RGBA PNG", "gray": "greyscale JPEG", "bilevel": "1-bit PNG", "progressive": "progressive JPEG",
    "exif_rotated": "JPEG stored sideways with EXIF orientation 6", "gif": "GIF", "webp": "WebP",
    "wide": "4000x3 PNG",
}
KINDS = {k.name: k for k in [
    Kind("ok", "ok", what="a plain JPEG"),
    Kind("http500", "failed_download", 4, True, "HTTP 500"),
    Kind("http503", "failed_download", 4, True, "HTTP 503 with Retry-After: 1"),
    Kind("http429", "failed_download", 4, True, "HTTP 429 with Retry-After: 1"),
    Kind("reset", "failed_download", 4, True, "TCP RST instead of a response"),
    Kind("stall", "failed_download", 3, True, f"half the body, then {STALL_SECONDS:.0f} s of silence"),
    Kind("truncate", "failed_download", 4, True, "announces more bytes than it sends, then closes"),
    Kind("stall_headers", "failed_download", 1, what=f"{STALL_SECONDS:.0f} s of silence before the status line"),
    Kind("drip", "failed_download", 1, what=f"one byte every {DRIP_INTERVAL} s: no single read times out"),
    Kind("short_length", "failed_checksum", what="Content-Length 100 below the body: a prefix arrives"),
    Kind("wrong_type", "ok", what="a JPEG served as text/html"),
    Kind("html_body", "failed_decode", what="an HTML page served as image/jpeg (its MD5 announced)"),
    Kind("redirect_chain", "ok", what=f"{REDIRECT_HOPS} redirects, then the picture"),
    Kind("slow", "ok", 0, what="the picture after n ms (never drawn: kill tests use it to last)"),
    Kind("redirect_loop", "failed_download", what="a redirect to itself"),
    Kind("redirect_private", "refused",
         what="a redirect to loopback (127.0.0.1, localhost, [::1], ...) port 1 (failed_download when private "
              "networks are allowed)"),
    Kind("huge_length", "failed_download", what="Content-Length of a terabyte"),
    Kind("huge_body", "failed_download", what="no length, zeros until the client hangs up"),
    Kind("gzip_bomb", "failed_download", what="gzip Content-Encoding inflating to 256 MB (4x the default limit)"),
    Kind("gzip_ok", "ok", what="the picture gzip-encoded in transit, encoded body longer than the picture"),
    Kind("pixel_bomb", "failed_decode", what="900 Mpx 1-bit PNG of ~100 KB"),
    Kind("mid_bomb", "failed_decode", what="132 Mpx 1-bit PNG: above our limit, below Pillow's own"),
    Kind("jpeg_bomb", "failed_decode", what="a JPEG whose frame header claims 60000x60000"),
    Kind("not_image", "failed_decode", what="random bytes served as image/jpeg"),
    Kind("robots_noai", "refused", what="the picture with `X-Robots-Tag: noai, noimageai` (opted out)"),
    Kind("robots_other_agent", "ok", what="the picture with `X-Robots-Tag: otherbot: noai` (not addressed to us)"),
    *[Kind(f"mode_{m}", "ok", 1, what=what) for m, what in MODES.items()],
]}
TRANSIENT_FAILS = (1, 2, 4)


@dataclass(frozen=True)
class Item:
    image_id: str
    kind: str
    n: int | None  # failing requests for a transient kind (None: permanent), hops for redirect_chain
    url: str
    md5: str  # base64 MD5 the metadata announces
    size: int
    expect: str  # the status once every transient fault has passed

    @property
    def fault(self) -> bool:
        return self.kind != "ok"

    @property
    def transient(self) -> bool:
        """Fails its first ``n`` requests only: recoverable by retries or a later run."""
        return self.n is not None and KINDS[self.kind].transient

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


# -- bodies ------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def payload(kind: str, name: str) -> tuple[bytes, str]:
    """The body a successful request for ``kind``/``name`` gets, and its content type."""
    if kind.startswith("mode_"):
        data, ctype, _ = media.picture(kind[5:], name)
        return data, ctype
    if kind == "html_body":
        return f"<html><body>{name} moved, sorry</body></html>\n".encode() * 8, "image/jpeg"
    if kind == "pixel_bomb":
        return media.png_1bit(30000, 30000), "image/png"
    if kind == "mid_bomb":
        return media.png_1bit(12000, 11000), "image/png"
    if kind == "jpeg_bomb":
        return media.jpeg_claiming(60000, 60000), "image/jpeg"
    if kind == "not_image":
        return random.Random(name).randbytes(3000), "image/jpeg"
    data, ctype, _ = media.picture("jpeg", name)
    return data, ("text/html" if kind == "wrong_type" else ctype)


def reference(kind: str, name: str):
    """The RGB picture an ``ok`` item must hold (before the pipeline's own JPEG loss)."""
    return media.picture(kind[5:] if kind.startswith("mode_") else "jpeg", name)[2]


# -- the plan ---------------------------------------------------------------------------------------------------
def image_id(seed: int, index: int) -> str:
    return hashlib.md5(f"faults-{seed}-{index}".encode()).hexdigest()[:16]


def plan(base_url: str, n: int, percent: int, seed: int, exclude: tuple[str, ...] = (),
         private_allowed: bool = False) -> list[Item]:
    """``n`` items, ``percent`` % faulty, drawn by ``seed``; the same every call."""
    unknown = set(exclude) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown fault kinds {sorted(unknown)}")
    faults = [k for k in KINDS.values() if k.name != "ok" and k.name not in exclude]
    rng = random.Random(f"faults-{seed}")
    items = []
    for index in range(n):
        kind = KINDS["ok"]
        if rng.random() * 100 < percent:
            kind = rng.choices(faults, weights=[k.weight for k in faults])[0]
        count: int | None = None
        if kind.transient and rng.random() < 0.5:
            count = rng.choice(TRANSIENT_FAILS)
        if kind.name == "redirect_chain":
            count = REDIRECT_HOPS
        items.append(make_item(base_url, kind.name, count, image_id(seed, index), private_allowed))
    return items


def make_item(base_url: str, kind: str, n: int | None, key: str, private_allowed: bool = False) -> Item:
    """The item ``key`` served as ``kind`` (``n`` as in the module doc; None: permanent)."""
    ext = "png" if kind.startswith("mode_") else "jpg"
    url = f"{base_url}{PREFIX}/{kind}/{'p' if n is None else n}/{key}.{ext}"
    data, _ = payload("ok" if kind == "slow" else kind, f"{key}.{ext}")
    expect = "ok" if n is not None and KINDS[kind].transient else KINDS[kind].expect
    if kind == "redirect_private" and private_allowed:
        expect = "failed_download"
    return Item(key, kind, n, url, base64.b64encode(hashlib.md5(data).digest()).decode(), len(data), expect)


def metadata_csv(items: list[Item]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=OPENIMAGES_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow({
            "ImageID": item.image_id, "Subset": "train", "OriginalURL": item.url,
            "OriginalLandingURL": f"https://www.flickr.com/photos/faults/{item.image_id}",
            "License": "https://creativecommons.org/licenses/by/2.0/", "AuthorProfileURL": "",
            "Author": "visionflow faults", "Title": item.kind, "OriginalSize": str(item.size),
            "OriginalMD5": item.md5, "Thumbnail300KURL": "", "Rotation": "",
        })
    return out.getvalue()


# -- the server side --------------------------------------------------------------------------------------------
def _head(h, status: int, headers: dict[str, str]) -> None:
    h.send_response(status)
    for name, value in headers.items():
        h.send_header(name, value)
    h.end_headers()


def _reset(h) -> None:
    # Linger 0: closing sends RST, not FIN (the socket closes for real once the handler lets go of it).
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _stall(data: bytes, ctype: str):
    def write(h) -> None:
        _head(h, 200, {"Content-Type": ctype, "Content-Length": str(len(data))})
        h.wfile.write(data[: len(data) // 2])
        time.sleep(STALL_SECONDS)
    return write


def _stall_headers(h) -> None:
    time.sleep(STALL_SECONDS)


def _drip(data: bytes, ctype: str):
    def write(h) -> None:
        _head(h, 200, {"Content-Type": ctype, "Content-Length": str(len(data))})
        until = time.monotonic() + DRIP_SECONDS
        for i in range(len(data)):
            if time.monotonic() > until:
                return
            h.wfile.write(data[i:i + 1])
            time.sleep(DRIP_INTERVAL)
    return write


def _huge_body(h) -> None:
    _head(h, 200, {"Content-Type": "image/jpeg", "Connection": "close"})  # no length: read until close
    block = b"\x00" * (64 << 10)
    for _ in range(HUGE_BODY_CAP // len(block)):
        h.wfile.write(block)


def _huge_length(data: bytes):
    def write(h) -> None:
        _head(h, 200, {"Content-Type": "image/jpeg", "Content-Length": str(10 ** 12), "Connection": "close"})
        h.wfile.write(data)
    return write


def _short_length(data: bytes, ctype: str):
    def write(h) -> None:
        _head(h, 200, {"Content-Type": ctype, "Content-Length": str(len(data) - 100), "Connection": "close"})
        h.wfile.write(data)
    return write


class _Handler:
    def __init__(self, source: SampleSource):
        self.source = source

    def _hit(self, path: str) -> int:
        with self.source.lock:
            return self.source.hits[path]  # the server counted this request before dispatching it

    def __call__(self, req: Request) -> Response:
        parts = req.path.strip("/").split("/")
        if parts == ["hits"]:  # requests per fault path so far, for a client in another process
            with self.source.lock:
                hits = {k: v for k, v in self.source.hits.items()
                        if k.startswith(PREFIX + "/") and k != PREFIX + "/hits"}
            return Response(body=json.dumps(hits).encode(), content_type="application/json")
        if parts[0] == "metadata" and len(parts) == 2:
            return self._metadata(parts[1], req)
        if len(parts) != 3 or parts[0] not in KINDS:
            return Response(404, b"no such fault", content_type="text/plain")
        kind, n, name = parts
        if not (n == "p" or n.isdigit()):
            return Response(404, b"fault count must be p or a number", content_type="text/plain")
        if kind == "redirect_chain":
            hops = int(n) if n.isdigit() else 0
            if hops:
                return Response(302, headers={"Location": f"{PREFIX}/{kind}/{hops - 1}/{name}"})
            kind = "ok"
        if kind == "slow":
            time.sleep(int(n) / 1000 if n.isdigit() else 0)
            kind = "ok"
        failing = n == "p" or self._hit(f"{PREFIX}{req.path}") <= int(n)
        data, ctype = payload(kind, name)
        if failing:
            fault = self._fault(kind, data, ctype, req)
            if fault is not None:
                return fault
        if kind == "gzip_ok":
            # Level 0 (stored): the encoded body is longer than the picture, as gzip of JPEG often is.
            return Response(body=gzip.compress(data, compresslevel=0, mtime=0), content_type=ctype,
                            headers={"Content-Encoding": "gzip"})
        return Response(body=data, content_type=ctype)

    def _fault(self, kind: str, data: bytes, ctype: str, req: Request) -> Response | None:
        text = "text/plain"
        private = PRIVATE_TARGETS[int(hashlib.md5(req.path.encode()).hexdigest(), 16) % len(PRIVATE_TARGETS)]
        make = {  # built on demand: the gzip bomb alone costs a second of CPU the first time
            "http500": lambda: Response(500, b"internal error", content_type=text),
            "http503": lambda: Response(503, b"busy", headers={"Retry-After": "1"}, content_type=text),
            "http429": lambda: Response(429, b"slow down", headers={"Retry-After": "1"}, content_type=text),
            "truncate": lambda: Response(body=data[: len(data) // 3], declared_length=len(data), content_type=ctype),
            "redirect_loop": lambda: Response(302, headers={"Location": f"{PREFIX}{req.path}"}),
            "redirect_private": lambda: Response(302, headers={"Location": private}),
            "gzip_bomb": lambda: Response(body=media.gzip_bomb(), content_type=ctype,
                                          headers={"Content-Encoding": "gzip"}),
            "reset": lambda: Response(raw=_reset),
            "stall": lambda: Response(raw=_stall(data, ctype)),
            "stall_headers": lambda: Response(raw=_stall_headers),
            "drip": lambda: Response(raw=_drip(data, ctype)),
            "huge_body": lambda: Response(raw=_huge_body),
            "huge_length": lambda: Response(raw=_huge_length(data)),
            "short_length": lambda: Response(raw=_short_length(data, ctype)),
            "robots_noai": lambda: Response(body=data, content_type=ctype,
                                            headers={"X-Robots-Tag": "noai, noimageai"}),
            "robots_other_agent": lambda: Response(body=data, content_type=ctype,
                                                   headers={"X-Robots-Tag": "otherbot: noai"}),
        }.get(kind)
        return make() if make else None

    def _metadata(self, name: str, req: Request) -> Response:
        if name == "boxable.csv":
            return Response(body=(",".join(OPENIMAGES_COLUMNS) + "\n").encode(), content_type="text/csv")
        try:
            n, percent, seed = (int(x) for x in name.removesuffix(".csv").split("-"))
            exclude = tuple(x for x in req.arg("exclude").split(",") if x)
            items = plan(self.source.base_url, n, percent, seed, exclude)
        except ValueError as err:
            return Response(404, f"bad metadata name {name}: {err}".encode(), content_type="text/plain")
        return Response(body=metadata_csv(items).encode(), content_type="text/csv")


def metadata_url(base_url: str, n: int, percent: int, seed: int, exclude: tuple[str, ...] = ()) -> str:
    query = f"?exclude={','.join(exclude)}" if exclude else ""
    return f"{base_url}{PREFIX}/metadata/{n}-{percent}-{seed}.csv{query}"


def mount(source: SampleSource) -> dict[str, str]:
    source.mount(PREFIX, _Handler(source))
    return {"faults_base_url": f"{source.base_url}{PREFIX}",
            "faults_boxable_url": f"{source.base_url}{PREFIX}/metadata/boxable.csv"}
