"""Frame timing of the ffmpeg CLI's constant-rate output, so frame counts match ``ffmpeg -i IN [-r N] OUT/%05d.jpg``.

Two ffmpeg behaviours give different counts for the same "10 frames per second":

* the ``fps`` filter (``-vf fps=10``) keeps the frame nearest to each output tick: :class:`frames.RateSampler`;
* the output rate (``-r 10``, and the native rate when no ``-r`` is given, as image sequences are written at a
  constant rate) runs ffmpeg's *video sync* instead: each frame's drift from the next output tick decides
  whether it is dropped (drift < -1.1 ticks), kept once, or repeated; frames that lag less than 1.1 ticks are
  kept, so ``-r`` writes one or two frames more than ``fps=`` on the same video. AdaCLIP's extractor uses it.

:class:`CliRateSync` re-implements that decision (fftools' CFR/VSCFR modes) from the documented algorithm:
timestamps in output ticks with the same rounding, the 1.1-tick thresholds, the "previous frame" repeats for
gaps, and, at the end of the stream, the median of the last three such repeat counts. With a single-stream
input file ffmpeg uses the VSCFR variant, which does not pad a late first frame with repeats.
"""
from __future__ import annotations

import math
import struct
from fractions import Fraction

DROP_BELOW = -1.1  # ticks of drift under which a frame is dropped
REPEAT_ABOVE = 1.1  # ticks over which a frame is repeated
NUDGE = Fraction(1, 1 << 17)  # ffmpeg moves non-integer tick times off exact midpoints by this much


def _float32_round(value: float) -> int:
    """``llrintf``: round to the nearest integer (ties to even) after narrowing to a C float."""
    return round(struct.unpack("f", struct.pack("f", value))[0])


def _round_half_away(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2)) if value >= 0 else -math.floor(-value + Fraction(1, 2))


def _mid(a: int, b: int, c: int) -> int:
    return sorted((a, b, c))[1]


class CliRateSync:
    """Decide, frame by frame, how many copies of the previous and of the current frame ffmpeg writes.

    :param rate: output frames per second (``-r``, or the stream's guessed rate for the native rate)
    :param single_stream: the input file has one stream only (ffmpeg then uses VSCFR)
    """

    def __init__(self, rate: Fraction, single_stream: bool):
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = Fraction(rate)
        self.single_stream = single_stream
        tick_den = self.rate.numerator  # the output time base is 1/rate
        self.extra_bits = min(16, max(0, 29 - (tick_den.bit_length() - 1)))
        self.next_tick = 0
        self.emitted = 0
        self.seen = 0
        self.history = [0, 0, 0]  # repeats of the previous frame, newest first

    def _ticks(self, seconds: Fraction) -> float:
        """Frame time in output ticks as ffmpeg computes it (extra precision bits, midpoint nudge)."""
        scale = 1 << self.extra_bits
        value = Fraction(_round_half_away(seconds * self.rate * scale), scale)
        if value.denominator != 1:
            value += NUDGE if value > 0 else -NUDGE
        return float(value)

    def push(self, seconds: Fraction, duration: Fraction) -> tuple[int, int]:
        """A frame at ``seconds`` (from the file start) lasting ``duration``: returns (copies of the previous
        frame, copies of this one) to write, in that order."""
        sync = self._ticks(seconds)
        length = float(duration * self.rate)
        delta0 = sync - self.next_tick
        delta = delta0 + length
        total, previous = 1, 0
        if delta0 < 0 < delta:  # the frame starts before the next tick: clip it there
            sync, length, delta0 = float(self.next_tick), length + delta0, 0.0
        if self.single_stream and self.emitted == 0 and delta0 >= 0.5:  # VSCFR: no padding before the first
            delta, delta0, self.next_tick = length, 0.0, round(sync)
        if delta < DROP_BELOW:
            total = 0
        elif delta > REPEAT_ABOVE:
            total = _float32_round(delta)
            if delta0 > REPEAT_ABOVE:
                previous = _float32_round(delta0 - 0.6)
        self.history = [previous, *self.history[:2]]
        self.next_tick += total
        self.emitted += total
        self.seen += 1
        if self.seen == 1:  # no earlier frame to repeat: ffmpeg uses this one
            return 0, total
        previous = min(previous, total)
        return previous, total - previous

    def finish(self) -> int:
        """Copies of the last frame written at the end of the stream."""
        extra = _mid(*self.history) if self.emitted else 0
        self.history = [extra, *self.history[:2]]
        self.next_tick += extra
        self.emitted += extra
        return extra
