#!/usr/bin/env python3
"""The ledger check: no acknowledged write is ever lost or duplicated. Standard library only, so it
runs from a pod (Litmus's cmdProbe) as well as from the chaos suite.

A ledger maps each write's ``Idempotency-Key`` to the id the service acknowledged (201). The check
reads every todo of the ledger's user back through the API, one page at a time, and reports:

* ``acknowledged``: writes answered 201;
* ``lost``: acknowledged ids the API does not return;
* ``duplicates``: keys (titles) present more than once: a retry that created a second todo.

Commands::

    ledger_check.py run --url URL [--seconds 20] [--writers 4]   # write with a ledger, then check
    ledger_check.py check --url URL --token T --ledger ledger.json

Both print one JSON line and exit 0 when the ledger holds, 1 when it does not.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from typing import Any

__all__ = ["Ledger", "check_ledger", "fetch_titles", "main", "sign_up"]

RETRY_STATUSES = frozenset({502, 503, 504})


def _request(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None, timeout: float = 15
) -> tuple[int, dict[str, str], Any]:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP URL: {url!r}")
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310 - checked above
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:  # noqa: S310 - checked above
            raw = answer.read()
            return answer.status, dict(answer.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return err.code, dict(err.headers), parsed


def sign_up(base_url: str) -> str:
    """A fresh user and its bearer token: the ledger's todos are that user's and no one else's."""
    email = f"ledger-{uuid.uuid4().hex[:12]}@chaos.example"
    password = uuid.uuid4().hex
    for attempt in range(30):
        try:
            status, _, _ = _request(f"{base_url}/api/v1/auth/register", "POST", {"email": email, "password": password})
            if status in (201, 409):
                status, _, body = _request(
                    f"{base_url}/api/v1/auth/token", "POST", {"email": email, "password": password}
                )
                if status == 200:
                    return str(body["access_token"])
        except OSError:
            pass
        time.sleep(min(2.0, 0.1 * 2**attempt))
    raise SystemExit("could not sign up a ledger user")


def fetch_titles(base_url: str, token: str) -> Counter[tuple[str, str]]:
    """Every (title, id) of the token's user, read back page by page (retrying 503/504)."""
    seen: Counter[tuple[str, str]] = Counter()
    cursor: str | None = None
    while True:
        query = "limit=200&sort=created" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        for attempt in range(20):
            try:
                status, headers, body = _request(
                    f"{base_url}/api/v1/todos?{query}", headers={"Authorization": f"Bearer {token}"}
                )
            except OSError:
                status, headers, body = 0, {}, None
            if status == 200:
                break
            time.sleep(min(2.0, float(headers.get("Retry-After", 0.2 * (attempt + 1)))))
        else:
            raise RuntimeError(f"the API did not list the ledger's todos (last status {status})")
        for item in body["items"]:
            seen[(item["title"], item["id"])] += 1
        cursor = body.get("next")
        if not cursor:
            return seen


def check_ledger(acknowledged: dict[str, str], titles: Counter[tuple[str, str]]) -> dict[str, Any]:
    """Compare the ledger (key -> acknowledged id) with what the service returns."""
    by_title = Counter(title for title, _ in titles.elements())
    ids = {todo_id for _, todo_id in titles}
    lost = sorted(key for key, todo_id in acknowledged.items() if todo_id not in ids)
    duplicates = sorted(title for title, n in by_title.items() if n > 1)
    return {
        "acknowledged": len(acknowledged),
        "readable": len(acknowledged) - len(lost),
        "lost": len(lost),
        "duplicates": len(duplicates),
        "examples": {"lost": lost[:5], "duplicates": duplicates[:5]},
        "verdict": "holds" if not lost and not duplicates else "broken",
    }


class Ledger:
    """Writers that retry each write with its own key until it is acknowledged (threads, stdlib)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        self.acknowledged: dict[str, str] = {}
        self.statuses: Counter[str] = Counter()
        self._lock = threading.Lock()

    def write(self, key: str, give_up_at: float) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": key}
        while time.monotonic() < give_up_at:
            try:
                status, answer_headers, body = _request(
                    f"{self.base_url}/api/v1/todos", "POST", {"title": key}, headers, timeout=20
                )
            except OSError as exc:
                self._count(type(exc).__name__)
                time.sleep(0.2)
                continue
            self._count(str(status))
            if status == 201:
                with self._lock:
                    self.acknowledged[key] = body["id"]
                return
            if status not in RETRY_STATUSES:
                return
            time.sleep(min(5.0, float(answer_headers.get("Retry-After", 0.5))))

    def _count(self, what: str) -> None:
        with self._lock:
            self.statuses[what] += 1

    def drive(self, seconds: float, writers: int) -> None:
        stop = time.monotonic() + seconds

        def writer() -> None:
            while time.monotonic() < stop:
                self.write(f"ledger-{uuid.uuid4().hex}", stop + 30)

        threads = [threading.Thread(target=writer, daemon=True) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="write with a ledger for a while, then check it")
    run.add_argument("--url", required=True, help="the service, e.g. http://todostack.default.svc:8000")
    run.add_argument("--seconds", type=float, default=20.0)
    run.add_argument("--writers", type=int, default=4)
    check = sub.add_parser("check", help="check a ledger written earlier (JSON: key -> id)")
    check.add_argument("--url", required=True)
    check.add_argument("--token", required=True)
    check.add_argument("--ledger", required=True)
    args = parser.parse_args(argv)
    base_url = args.url.rstrip("/")
    if args.command == "run":
        ledger = Ledger(base_url, sign_up(base_url))
        ledger.drive(args.seconds, args.writers)
        report = check_ledger(ledger.acknowledged, fetch_titles(base_url, ledger.token))
        report["answers"] = dict(ledger.statuses)
    else:
        with open(args.ledger, encoding="utf-8") as source:
            acknowledged = json.load(source)
        report = check_ledger(acknowledged, fetch_titles(base_url, args.token))
    print(json.dumps(report, sort_keys=True))
    return 0 if report["verdict"] == "holds" else 1


if __name__ == "__main__":
    sys.exit(main())
