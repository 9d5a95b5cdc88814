"""A flame graph as one self-contained SVG: no script, no fonts or styles fetched from anywhere.

Each box is a function on the stack (callers below, callees above), as wide as its share of the
profile's value; hovering shows the full name, file and share (the SVG ``<title>``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from todostack.profiling.profile import StackProfile

__all__ = ["render_flamegraph"]

_WIDTH = 1200
_ROW = 17
_PAD = 10
_MIN_PX = 0.5  # narrower boxes are not drawn (their value still counts in their parents)


@dataclass
class _Node:
    name: str
    filename: str = ""
    value: int = 0
    children: dict[tuple[str, str], _Node] = field(default_factory=dict)


def _tree(profile: StackProfile, index: int) -> _Node:
    root = _Node("all")
    for (stack, _), values in profile.samples.items():
        value = values[index]
        if value <= 0:
            continue
        root.value += value
        node = root
        for frame in reversed(stack):  # root first
            key = (frame.function, frame.filename)
            child = node.children.get(key)
            if child is None:
                child = node.children[key] = _Node(frame.function, frame.filename)
            child.value += value
            node = child
    return root


def _depth(node: _Node) -> int:
    return 1 + max((_depth(c) for c in node.children.values()), default=0)


def _colour(name: str) -> str:
    digest = hashlib.blake2s(name.encode(), digest_size=3).digest()
    return f"rgb({205 + digest[0] % 50},{80 + digest[1] % 120},{digest[2] % 60})"


def render_flamegraph(profile: StackProfile, title: str, sample_type: str | None = None) -> str:
    index = profile.value_index(sample_type)
    unit = profile.sample_types[index][1] if profile.sample_types else ""
    root = _tree(profile, index)
    depth = _depth(root)
    height = depth * _ROW + 3 * _PAD + 20
    scale = (_WIDTH - 2 * _PAD) / root.value if root.value else 0.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" font-family="monospace" font-size="11">',
        f'<rect width="{_WIDTH}" height="{height}" fill="#fdfdf6"/>',
        f'<text x="{_WIDTH / 2}" y="{_PAD + 12}" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    if not root.value:
        parts.append(f'<text x="{_PAD}" y="{_PAD + 40}">no samples</text>')

    def draw(node: _Node, x: float, level: int) -> None:
        w = node.value * scale
        if w < _MIN_PX:
            return
        y = height - _PAD - (level + 1) * _ROW
        share = 100 * node.value / root.value
        label = f"{node.name} ({node.filename})" if node.filename else node.name
        parts.append(
            f"<g><title>{escape(label)}: {node.value:,} {escape(unit)}, {share:.2f}%</title>"
            f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{_ROW - 1}" rx="2" fill="{_colour(node.name)}"/>'
        )
        chars = int((w - 6) / 6.6)
        if chars >= 3:
            text = node.name if len(node.name) <= chars else node.name[: chars - 2] + ".."
            parts.append(f'<text x="{x + 3:.2f}" y="{y + _ROW - 5}">{escape(text)}</text>')
        parts.append("</g>")
        for child in sorted(node.children.values(), key=lambda c: c.name):
            draw(child, x, level + 1)
            x += child.value * scale

    if root.value:
        draw(root, _PAD, 0)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
