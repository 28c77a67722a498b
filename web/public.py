"""The public door's request adapters, shared by the public JSON API and the public pages.

The rendered-calendar cache (per process, with ETags), the privacy keys, the channels that
reach registrants, the client's address and counting a person against the public rate limits
(web/throttle.py's limiter), each taken from the app's state and settings; the rules they serve
live in workflows/public/.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from fastapi.responses import Response

from schemas.public import RegistrationIn
from web.throttle import public_throttle
from workflows.public import human_check, notices, privacy
from workflows.public import registration as flow
from workflows.public.privacy import Keys
from workflows.public.throttle import count_person


@dataclass(frozen=True)
class Cached:
    """A rendered answer, its validator and when it goes stale."""

    body: bytes
    media_type: str
    etag: str
    expires: float


class CalendarCache:
    """The rendered public calendar (page and JSON) per campaign, reused for a few seconds.

    Per process: a registration change in this process clears it at once; one made in another
    API process shows after at most `seconds` (the registration itself is always decided live,
    under the event's lock). Answers carry an ETag and `Cache-Control: public, max-age`.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._entries: dict[tuple[str, int | None], Cached] = {}

    def get(self, kind: str, campaign_id: int | None) -> Cached | None:
        """A fresh entry, or None."""
        found = self._entries.get((kind, campaign_id))
        return found if found is not None and found.expires > self.clock() else None

    def put(self, kind: str, campaign_id: int | None, body: bytes, media_type: str) -> Cached:
        """Keep a rendered answer (not at all when caching is off)."""
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        entry = Cached(body, media_type, etag, self.clock() + self.seconds)
        if self.seconds > 0:
            if len(self._entries) > 1000:  # campaign ids come from the query string
                self._entries.clear()
            self._entries[(kind, campaign_id)] = entry
        return entry

    def clear(self) -> None:
        """Forget everything (a registration changed the places taken)."""
        self._entries.clear()


def calendar_cache(request: Request) -> CalendarCache:
    """The app's calendar cache, made on first use."""
    found = getattr(request.app.state, "calendar_cache", None)
    if found is None:
        found = CalendarCache(request.app.state.settings.public_cache_seconds)
        request.app.state.calendar_cache = found
    return found


def cached_answer(request: Request, entry: Cached) -> Response:
    """The entry as an answer, or 304 when the client already holds it."""
    headers = {
        "ETag": entry.etag,
        "Cache-Control": f"public, max-age={int(calendar_cache(request).seconds)}",
    }
    if request.headers.get("if-none-match") == entry.etag:
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type=entry.media_type, headers=headers)


def keys(request: Request) -> Keys:
    """The privacy keys of the app's settings."""
    return privacy.keys_from_settings(request.app.state.settings)


def address(request: Request) -> str:
    """The client's address (the proxy in front sets the real one through uvicorn's
    --forwarded-allow-ips)."""
    return request.client.host if request.client else "unknown"


def limit_rating(request: Request, phone: str) -> None:
    """Count a rating from the tracking page like a receipt look-up, and per phone (hashed)."""
    limiter = public_throttle(request)
    limiter.hit("track", address(request))
    limiter.hit("phone", keys(request).digest("phone", phone.strip()[:32]))


def limit_person(request: Request, phone: str) -> None:
    """Count a registration, look-up or cancellation per address and per phone (hashed)."""
    count_person(public_throttle(request), keys(request), address(request), phone)


def check_human(request: Request, token: str, answer: str, now: datetime) -> None:
    """Refuse a forged, expired, reused or wrong answer to the human check (spends the token)."""
    human_check.verify(keys(request), token, answer, now, public_throttle(request).first_use)


def notify(request: Request) -> notices.Channels:
    """The channels that reach registrants, from the app's settings."""
    return notices.Channels.of(request.app.state.settings)


def applicant(body: RegistrationIn) -> flow.Applicant:
    """The workflow's view of the form."""
    return flow.Applicant(
        name=body.name,
        phone=body.phone,
        district=body.district,
        consent=body.consent,
        id_number=body.id_number,
        email=body.email,
    )
