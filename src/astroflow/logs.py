"""Logging for workflow steps: a log file per rule, progress lines, and clean failure messages."""
from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from astroflow.errors import AstroflowError

log = logging.getLogger("astroflow")


@contextlib.contextmanager
def logged(path: str | Path | None = None, level: int = logging.INFO):
    """Send astroflow's log to ``path`` (and stderr); turn a user-facing error into one clear line and exit 1."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(path, mode="w"))
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    for h in handlers:
        h.setFormatter(fmt)
        log.addHandler(h)
    log.setLevel(level)
    logging.captureWarnings(True)
    try:
        yield log
    except AstroflowError as err:
        log.error("%s", err)
        raise SystemExit(1) from None
    finally:
        for h in handlers:
            log.removeHandler(h)
            h.close()


def progress(items: Iterable, desc: str, total: int | None = None, every_s: float = 10.0,
             status: Callable[[], str] | None = None) -> Iterator:
    """Iterate with a tqdm bar on a terminal, and a log line every ``every_s`` seconds otherwise. The line says
    ``desc: <done>/<total>``, or ``desc: <status()>`` when ``status`` tells where the work stands (e.g. a training
    run's step and loss)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(items, desc=desc, total=total)
        for item in bar:
            yield item
            if status:
                bar.set_postfix_str(status(), refresh=False)
        return
    start = last = time.monotonic()
    n = 0
    for n, item in enumerate(items, 1):
        yield item
        now = time.monotonic()
        if now - last >= every_s:
            last = now
            where = status() if status else f"{n}/{total if total is not None else '?'}"
            log.info("%s: %s (%.0f s)", desc, where, now - start)
    if status:
        log.info("%s: %s, done in %.1f s", desc, status(), time.monotonic() - start)
    else:
        log.info("%s: done, %d items in %.1f s", desc, n, time.monotonic() - start)
