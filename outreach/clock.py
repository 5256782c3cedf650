"""The one place that reads the wall clock.

Domain functions take ``now`` as an argument; only entry points (CLI, worker
loop, app pages) call :func:`now`. Tests move time with time-machine, which
patches the clock underneath this call. Everything is stored in UTC and
converted to the viewer's zone only when shown.
"""

from datetime import UTC, datetime


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)
