"""What every upstream read returns: the value plus where it came from and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
Source = Literal["upstream", "cache", "stale"]


@dataclass(frozen=True)
class Fetched(Generic[T]):
    """A value read from an upstream, with its provenance for the pages to show."""

    value: T
    fetched_at: datetime  # UTC, when the upstream produced this answer
    source: Source
    stale_reason: str | None = None  # why a stale answer stands in for a fresh one
    caveat: str | None = None  # why its numbers may be wrong although the read succeeded

    @property
    def from_cache(self) -> bool:
        """Tell whether no upstream call was made for this value."""
        return self.source != "upstream"

    @property
    def stale(self) -> bool:
        """Tell whether this is an expired answer served because the upstream failed."""
        return self.source == "stale"
