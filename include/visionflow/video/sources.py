"""Where raw (full-length) videos come from, by YouTube id: ``youtube`` (yt-dlp), ``url_template`` or
``local_dir``. Each source puts the video in a local work folder and returns its path, or raises
:class:`FetchError` with a reason code for the manifest.

Upstream (mmaction2 ``download.py``) shells out to youtube-dl with ``--no-check-certificate``; here yt-dlp is
used as a library, only when it is installed, and TLS is verified. YouTube links rot, so the CVDF and Academic
Torrents copies (served through ``url_template``, or unpacked into ``local_dir``) are the reliable sources.
"""
from __future__ import annotations

import glob
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from include.visionflow.errors import BadInputError, FetchError

log = logging.getLogger(__name__)

VIDEO_SOURCES = ("youtube", "url_template", "local_dir")
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".flv", ".m4v")
PLACEHOLDER = "{youtube_id}"


@dataclass(frozen=True)
class VideoSource:
    """One of :data:`VIDEO_SOURCES` with its setting (the template or the folder)."""

    kind: str
    url_template: str = ""
    local_dir: str = ""

    def __post_init__(self) -> None:
        if self.kind not in VIDEO_SOURCES:
            raise BadInputError(f"video_source must be one of {VIDEO_SOURCES}, not {self.kind!r}")
        if self.kind == "url_template" and PLACEHOLDER not in self.url_template:
            raise BadInputError(f"url_template {self.url_template!r} must contain {PLACEHOLDER}")
        if self.kind == "local_dir":
            from include.visionflow.inputs import local_input

            local_input(self.local_dir, "local_dir")
        if self.kind == "local_dir" and not Path(self.local_dir).is_dir():
            raise BadInputError(f"local_dir {self.local_dir!r} is not a folder")
        if self.kind == "youtube" and not ytdlp_available():
            # A missing tool is a setup error for the whole run, not a failure of each clip.
            raise BadInputError("video_source youtube needs yt-dlp: pip install yt-dlp, or use url_template "
                                "(e.g. a CVDF mirror) or local_dir")

    def url_for(self, youtube_id: str) -> str:
        # Plain replacement, not str.format: a template must not be able to reach attributes.
        return self.url_template.replace(PLACEHOLDER, quote(youtube_id, safe=""))

    def fetch(self, youtube_id: str, work_dir: Path, fetcher=None) -> Path:
        """The raw video of ``youtube_id`` as a local file (inside ``work_dir`` unless it is local already)."""
        if self.kind == "local_dir":
            return self._local(youtube_id)
        if self.kind == "url_template":
            if fetcher is None:
                from include.visionflow.fetch.http import VIDEO_DEADLINE, FetchConfig, Fetcher

                fetcher = Fetcher(FetchConfig(max_bytes=8 << 30, read_timeout=120.0, total_timeout=VIDEO_DEADLINE))
            dest = work_dir / f"{youtube_id}.video"
            size = fetcher.download_to(self.url_for(youtube_id), dest)
            log.debug("fetched %s (%s bytes)", youtube_id, size)
            return dest
        return _youtube(youtube_id, work_dir)

    def _local(self, youtube_id: str) -> Path:
        pattern = str(Path(self.local_dir) / f"{glob.escape(youtube_id)}.*")
        matches = sorted(p for p in map(Path, glob.glob(pattern)) if p.suffix.lower() in VIDEO_SUFFIXES)
        if not matches:
            raise FetchError("missing_local_video", f"no {youtube_id}.<ext> in {self.local_dir}")
        return matches[0]


def ytdlp_available() -> bool:
    try:
        import yt_dlp  # noqa: F401
    except ImportError:
        return False
    return True


def _youtube(youtube_id: str, work_dir: Path) -> Path:
    """Download with yt-dlp (mp4 preferred, as upstream's ``-f mp4``), when it is installed."""
    try:
        import yt_dlp
    except ImportError:
        raise FetchError("ytdlp_not_installed", "install yt-dlp or use url_template / local_dir") from None
    options = {
        "format": "mp4/bestvideo[ext=mp4]/best",
        "outtmpl": str(work_dir / f"{youtube_id}.%(ext)s"),
        "quiet": True,
        "no_warnings": True,
        "noplaylist": True,
        "retries": 3,
        "socket_timeout": 30,
    }
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            ydl.download([f"https://www.youtube.com/watch?v={youtube_id}"])
    except Exception as err:  # noqa: BLE001 - yt-dlp raises many types; each becomes a failed row
        raise FetchError("youtube_unavailable", str(err)[:300]) from None
    found = sorted(work_dir.glob(f"{glob.escape(youtube_id)}.*"))
    if not found:
        raise FetchError("youtube_unavailable", f"yt-dlp wrote nothing for {youtube_id}")
    return found[0]
