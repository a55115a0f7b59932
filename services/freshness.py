"""How fresh the data on a page is: when its oldest part was fetched, and what is stale."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from clients.result import Fetched


@dataclass(frozen=True)
class Freshness:
    """When the oldest data on the page was fetched, and whether any of it is stale."""

    fetched_at: datetime | None
    stale_reasons: tuple[str, ...] = ()
    caveats: tuple[str, ...] = ()  # why some numbers shown may be wrong

    @classmethod
    def of(cls, results: Sequence[Fetched]) -> Freshness:
        """Summarise the results a page was built from."""
        if not results:
            return cls(None)
        reasons = tuple(
            dict.fromkeys(r.stale_reason for r in results if r.stale and r.stale_reason)
        )
        caveats = tuple(dict.fromkeys(r.caveat for r in results if r.caveat))
        return cls(min(r.fetched_at for r in results), reasons, caveats)

    @property
    def stale(self) -> bool:
        """Tell whether stale data is shown because an upstream failed."""
        return bool(self.stale_reasons)
