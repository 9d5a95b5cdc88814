"""``profile.proto`` (github.com/google/pprof) written and read by hand, gzipped.

Only what a ``StackProfile`` holds is written: sample types, samples with string labels,
locations with one line each, functions with file and start line, the string table, period,
time, duration, comments and the default sample type. No mappings: these are interpreted
frames, not addresses. ``decode`` reads the same subset back (and skips anything else), which is
what ``todostack profile show`` and the merging of several workers' profiles need.
"""

from __future__ import annotations

import gzip

from todostack.profiling.profile import Frame, Labels, StackProfile

__all__ = ["ProfileFormatError", "decode", "encode"]


class ProfileFormatError(ValueError):
    """The bytes are not a (gzipped) pprof profile this reader understands."""


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 as protobuf writes it: ten bytes of two's complement
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _int(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(value) if value else b""


def _bytes(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def _packed(number: int, values: list[int]) -> bytes:
    return _bytes(number, b"".join(_varint(v) for v in values)) if values else b""


class _Strings:
    def __init__(self) -> None:
        self.table: list[str] = [""]
        self.index: dict[str, int] = {"": 0}

    def __call__(self, value: str) -> int:
        i = self.index.get(value)
        if i is None:
            i = self.index[value] = len(self.table)
            self.table.append(value)
        return i


def encode(profile: StackProfile) -> bytes:
    """The profile as gzipped ``profile.proto`` bytes (what ``go tool pprof`` reads)."""
    s = _Strings()
    out = bytearray()
    for kind, unit in profile.sample_types:
        out += _bytes(1, _int(1, s(kind)) + _int(2, s(unit)))
    functions: dict[tuple[str, str, int], int] = {}
    locations: dict[tuple[int, int], int] = {}
    function_bytes = bytearray()
    location_bytes = bytearray()
    for (stack, labels), values in profile.samples.items():
        ids = []
        for frame in stack:
            fkey = (frame.function, frame.filename, frame.start_line)
            fid = functions.get(fkey)
            if fid is None:
                fid = functions[fkey] = len(functions) + 1
                function_bytes += _bytes(
                    5,
                    _int(1, fid)
                    + _int(2, s(frame.function))
                    + _int(3, s(frame.function))
                    + _int(4, s(frame.filename))
                    + _int(5, frame.start_line),
                )
            lkey = (fid, frame.line)
            lid = locations.get(lkey)
            if lid is None:
                lid = locations[lkey] = len(locations) + 1
                line = _bytes(4, _int(1, fid) + _int(2, frame.line))
                location_bytes += _bytes(4, _int(1, lid) + line)
            ids.append(lid)
        label_bytes = b"".join(_bytes(3, _int(1, s(k)) + _int(2, s(v))) for k, v in labels)
        out += _bytes(2, _packed(1, ids) + _packed(2, values) + label_bytes)
    out += location_bytes
    out += function_bytes
    period_type = _bytes(11, _int(1, s(profile.period_type[0])) + _int(2, s(profile.period_type[1])))
    tail = _int(9, profile.time_nanos) + _int(10, profile.duration_nanos) + period_type + _int(12, profile.period)
    comments = [s(c) for c in profile.comments]
    default = _int(14, s(profile.default_sample_type)) if profile.default_sample_type else b""
    for text in s.table:
        out += _bytes(6, text.encode())
    out += tail + b"".join(_int(13, c) for c in comments) + default
    return gzip.compress(bytes(out), mtime=0)


# ---- reading -----------------------------------------------------------------------------------

Fields = dict[int, list[int | bytes]]


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProfileFormatError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProfileFormatError("varint too long")


def _fields(data: bytes) -> Fields:
    fields: Fields = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise ProfileFormatError("truncated field")
            value, pos = data[pos : pos + size], pos + size
        elif wire == 1:
            value, pos = int.from_bytes(data[pos : pos + 8], "little"), pos + 8
        elif wire == 5:
            value, pos = int.from_bytes(data[pos : pos + 4], "little"), pos + 4
        else:
            raise ProfileFormatError(f"unsupported wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def _ints(fields: Fields, number: int) -> list[int]:
    """A repeated integer field, packed or not."""
    values: list[int] = []
    for item in fields.get(number, []):
        if isinstance(item, bytes):
            pos = 0
            while pos < len(item):
                v, pos = _read_varint(item, pos)
                values.append(v)
        else:
            values.append(item)
    return [v - (1 << 64) if v >= 1 << 63 else v for v in values]


def _one(fields: Fields, number: int) -> int:
    values = _ints(fields, number)
    return values[-1] if values else 0


def _messages(fields: Fields, number: int) -> list[Fields]:
    return [_fields(item) for item in fields.get(number, []) if isinstance(item, bytes)]


def decode(data: bytes) -> StackProfile:
    """Read a (gzipped or plain) pprof profile."""
    try:
        raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        top = _fields(raw)
        strings = [b.decode() if isinstance(b, bytes) else "" for b in top.get(6, [])]

        def text(i: int) -> str:
            return strings[i] if 0 <= i < len(strings) else ""

        functions = {_one(f, 1): (text(_one(f, 2)), text(_one(f, 4)), _one(f, 5)) for f in _messages(top, 5)}
        locations: dict[int, tuple[Frame, ...]] = {}
        for loc in _messages(top, 4):
            frames = []
            for line in reversed(_messages(loc, 4)):  # pprof lists inlined callees first
                name, filename, start = functions.get(_one(line, 1), ("?", "", 0))
                frames.append(Frame(name, filename, _one(line, 2), start))
            locations[_one(loc, 1)] = tuple(reversed(frames))
        types = tuple((text(_one(v, 1)), text(_one(v, 2))) for v in _messages(top, 1))
        periods = _messages(top, 11)
        period_type = (text(_one(periods[0], 1)), text(_one(periods[0], 2))) if periods else ("", "")
        profile = StackProfile(
            types,
            period_type,
            _one(top, 12),
            time_nanos=_one(top, 9),
            duration_nanos=_one(top, 10),
            default_sample_type=text(_one(top, 14)),
            comments=[text(c) for c in _ints(top, 13)],
        )
        for sample in _messages(top, 2):
            stack = tuple(frame for lid in _ints(sample, 1) for frame in locations.get(lid, ()))
            labels: Labels = tuple(
                sorted((text(_one(lb, 1)), text(_one(lb, 2))) for lb in _messages(sample, 3) if _one(lb, 2))
            )
            profile.add(stack, _ints(sample, 2), labels)
        return profile
    except (OSError, EOFError, UnicodeDecodeError, IndexError) as exc:
        raise ProfileFormatError(f"not a pprof profile: {exc}") from None
