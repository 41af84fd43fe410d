"""Turning generated token bytes into streamed text: UTF-8 split across tokens, and stop strings."""

from __future__ import annotations

import codecs
from collections.abc import Sequence


class TextAssembler:
    """Collects token bytes; hands out text that is safe to stream and finds stop strings.

    A character split over two tokens is held until complete, and a text tail that could still grow into
    a stop string is held until it either does (it is then cut) or cannot any more.
    """

    def __init__(self, stop: Sequence[str] = ()):
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stop = [s for s in stop if s]
        self.text = ""  # everything decoded so far, cut at a stop string once one is found
        self._streamed = 0
        self.stopped = False

    def feed(self, data: bytes) -> str:
        """Add one token's bytes; return the new text that may be streamed now (nothing after a stop)."""
        if self.stopped:
            return ""
        self.text += self._decoder.decode(data)
        cut = self._first_stop()
        if cut is not None:
            self.text = self.text[:cut]
            self.stopped = True
            return self._release(len(self.text))
        return self._release(len(self.text) - self._held_tail())

    def finish(self) -> str:
        """The end of generation: flush whatever was held back."""
        if not self.stopped:
            self.text += self._decoder.decode(b"", final=True)
        return self._release(len(self.text))

    def _first_stop(self) -> int | None:
        # Only the unstreamed tail plus the longest stop can hold a new match.
        start = max(0, self._streamed - max((len(s) for s in self._stop), default=0))
        hits = [i for i in (self.text.find(s, start) for s in self._stop) if i >= 0]
        return min(hits) if hits else None

    def _held_tail(self) -> int:
        """Length of the longest text suffix that is a proper prefix of some stop string."""
        longest = 0
        for stop in self._stop:
            for size in range(min(len(stop) - 1, len(self.text)), longest, -1):
                if self.text.endswith(stop[:size]):
                    longest = size
                    break
        return longest

    def _release(self, upto: int) -> str:
        upto = max(upto, self._streamed)
        piece = self.text[self._streamed : upto]
        self._streamed = upto
        return piece
