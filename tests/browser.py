"""Open a local HTML file in headless Chromium with the network cut off, and screenshot it.

Used by the map tests to check that a saved map renders offline without script errors. Needs
Debian's ``chromium`` (and ``fonts-wqy-microhei`` for Chinese text in screenshots).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BrowserResult", "body_attributes", "chromium_path", "screenshot"]

logger = logging.getLogger(__name__)

#: Where Debian's package installs the browser; PATH is searched as a fallback.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")

# Console lines that mean a page script failed (Chromium logs them as CONSOLE(...) lines).
_ERROR_PATTERNS = (
    re.compile(r"Uncaught"),
    re.compile(r"is not defined"),
    re.compile(r"is not a function"),
    re.compile(r"Cannot read propert"),
    re.compile(r"SyntaxError|TypeError|ReferenceError"),
    re.compile(r"Failed to load resource"),
    re.compile(r"net::ERR_"),
)


@dataclass
class BrowserResult:
    """What a headless run produced."""

    screenshot: Path
    returncode: int
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    page_requests: list[str] = field(default_factory=list)
    stderr: str = ""


def _page_requests(netlog: Path) -> list[str]:
    """Return the http(s) URLs the page (not the browser itself) tried to fetch.

    A request made by a page opened from a file has a network isolation key of ``file://``;
    Chromium's own background requests (update checks, accounts) have other keys.
    """
    if not netlog.exists():
        return []
    text = netlog.read_text(encoding="utf-8", errors="replace")
    urls: list[str] = []
    try:
        events = json.loads(text).get("events", [])
    except json.JSONDecodeError:  # log cut short: fall back to a line scan
        for m in re.finditer(r'\{[^{}]*"network_isolation_key":"file://[^{}]*\}', text):
            u = re.search(r'"url":"(https?://[^"]+)"', m.group(0))
            if u:
                urls.append(u.group(1))
        return sorted(set(urls))
    for event in events:
        params = event.get("params") or {}
        url = params.get("url", "")
        key = str(params.get("network_isolation_key", ""))
        if url.startswith(("http://", "https://")) and key.startswith("file://"):
            urls.append(url)
    return sorted(set(urls))


def chromium_path() -> str | None:
    """Return the Chromium executable, or ``None`` when none is installed."""
    for cand in CHROMIUM_CANDIDATES:
        found = shutil.which(cand)
        if found:
            return found
    return None


def screenshot(
    html_file: str | Path,
    png: str | Path,
    *,
    width: int = 1200,
    height: int = 900,
    budget_ms: int = 5000,
    timeout_s: float = 120.0,
) -> BrowserResult:
    """Screenshot a local HTML file with the network unavailable and collect script errors.

    Chromium gets a dead proxy (``127.0.0.1:9``) and a resolver rule that fails every host, so
    any attempt to reach the network fails (and is reported as ``net::ERR_...`` if the page
    logs it). Console messages are read from Chromium's stderr log (``--enable-logging=stderr``).

    Parameters
    ----------
    html_file
        The page to open (loaded as ``file://``).
    png
        Where to write the screenshot.
    width, height
        Window size in pixels.
    budget_ms
        Virtual time budget the page gets before the screenshot.
    timeout_s
        Wall-clock limit of the browser process.

    Returns
    -------
    BrowserResult
        Screenshot path, exit code, console lines, those that look like errors, and the
        http(s) URLs the page tried to load.

    Raises
    ------
    FileNotFoundError
        When Chromium is not installed.
    RuntimeError
        When Chromium wrote no screenshot.
    """
    exe = chromium_path()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
    url = Path(html_file).resolve().as_uri()
    png = Path(png).resolve()
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        netlog = Path(profile) / "netlog.json"
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-features=Translate,OptimizationHints,MediaRouter",
            "--proxy-server=127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--log-net-log={netlog}",
            f"--window-size={width},{height}",
            f"--virtual-time-budget={budget_ms}",
            f"--screenshot={png}",
            url,
        ]
        env = dict(os.environ)
        for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
            env.pop(var, None)
        env.setdefault("HOME", profile)
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        requests = _page_requests(netlog)
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    # Only page messages count: Chromium's own warnings (GPU, dbus) are not the page's errors.
    errors = [line for line in console if any(p.search(line) for p in _ERROR_PATTERNS)]
    errors += [
        line
        for line in proc.stderr.splitlines()
        if "CONSOLE" not in line and ("Uncaught" in line or "net::ERR_" in line)
    ]
    if not png.exists():
        raise RuntimeError(
            f"chromium wrote no screenshot (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    logger.info("screenshot %s: %d console lines, %d errors", png, len(console), len(errors))
    return BrowserResult(png, proc.returncode, console, errors, requests, proc.stderr)


def body_attributes(
    url: str, *, width: int = 1200, height: int = 900, budget_ms: int = 5000
) -> dict[str, str]:
    """Open ``url`` (a ``file://`` URL, optionally with a ``#`` part) offline in headless
    Chromium and return the attributes of ``<body>`` after the page's scripts ran.

    The plan map reports what it drew there (``data-plan-symbols``, ``data-plan-min-gap``, ...).
    """
    exe = chromium_path()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}", f"--window-size={width},{height}",
            f"--virtual-time-budget={budget_ms}", "--dump-dom", url,
        ]  # fmt: skip
        env = dict(os.environ)
        env.setdefault("HOME", profile)
        proc = subprocess.run(
            cmd, capture_output=True, text=True, errors="replace", timeout=180, env=env,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    body = re.search(r"<body([^>]*)>", proc.stdout)
    if body is None:
        raise RuntimeError(
            f"chromium returned no page (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    return dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
