"""The same-run limit for the public calendar: a minimal ASGI app answering every GET with one
fixed HTML page (the calendar's own bytes, captured by bench/public_calendar.py), under the same
uvicorn[standard] (uvloop, httptools) and worker count as `openday api`. No framework, no
middleware, no database: what the server stack alone can do on this machine.

Run by bench/public_calendar.py as `uvicorn static_page_app:app --app-dir bench --workers N`
with BENCH_STATIC_FILE naming the page.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BODY = Path(os.environ["BENCH_STATIC_FILE"]).read_bytes()
HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Every HTTP request: 200 and the page (lifespan events are acknowledged)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
