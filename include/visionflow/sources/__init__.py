"""Provider sources: the Openverse-style ingester base, the time-slice planner and the Flickr source."""
from __future__ import annotations
