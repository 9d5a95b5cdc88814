"""The wrk scenarios (as generated Lua scripts) and the parsing of wrk's answers."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from todostack.bench.options import SCENARIO_NAMES

__all__ = ["DONE_LUA", "SCENARIOS", "Workload", "WrkResult", "run_wrk", "script_for"]

SCENARIOS = SCENARIO_NAMES

# One JSON line at the end of every run: what wrk measured, in microseconds.
DONE_LUA = r"""
done = function(summary, latency, requests)
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
"""

# Each wrk thread owns a slice of the patch pool and learns every todo's new version from the
# answer, so every PATCH carries a correct If-Match and none gets a 412.
_PATCH_POOL = r"""
local pool_ids, pool_free, pool_version, pool_token = {}, {}, {}, {}
local threads_seen = 0
setup = function(thread)
  threads_seen = threads_seen + 1
  thread:set("tid", threads_seen)
end
init = function(args)
  local tid = tonumber(wrk.thread:get("tid")) or 1
  for i, todo in ipairs(PATCH) do
    if (i - 1) % THREADS + 1 == tid then
      pool_version[todo[1]] = 1
      pool_token[todo[1]] = todo[2]
      table.insert(pool_free, todo[1])
    end
  end
end
local function patch_request()
  local id = table.remove(pool_free)
  if id == nil then return nil end
  return wrk.format("PATCH", "/api/v1/todos/" .. id, {
    ["Authorization"] = "Bearer " .. pool_token[id],
    ["Content-Type"] = "application/json",
    ["If-Match"] = '"' .. pool_version[id] .. '"',
  }, '{"completed":' .. (pool_version[id] % 2 == 1 and "true" or "false") .. '}')
end
response = function(status, headers, body)
  local id = string.match(body, '"id":"([0-9a-f%-]+)"')
  if id ~= nil and pool_version[id] ~= nil then
    local version = tonumber(string.match(body, '"version":(%d+)'))
    if version ~= nil then pool_version[id] = version end
    table.insert(pool_free, id)
  end
end
"""

_READS = r"""
local function get_one()
  local u = math.random(#USERS)
  local ids = USERS[u].ids
  return wrk.format("GET", "/api/v1/todos/" .. ids[math.random(#ids)], {["Authorization"] = USERS[u].auth})
end
local function list_page()
  local u = math.random(#USERS)
  local path = "/api/v1/todos?list_id=" .. USERS[u].list .. "&limit=50"
  return wrk.format("GET", path, {["Authorization"] = USERS[u].auth})
end
local created = 0
local function create()
  local u = math.random(#USERS)
  created = created + 1
  return wrk.format("POST", "/api/v1/todos", {["Authorization"] = USERS[u].auth, ["Content-Type"] = "application/json"},
    '{"title":"bench ' .. created .. '","tags":["bench"],"priority":"low"}')
end
"""

_REQUEST = {
    "get-one": "request = function() return get_one() end",
    "list": "request = function() return list_page() end",
    "create": "request = function() return create() end",
    "patch": "request = function() return patch_request() or get_one() end",
    "mixed": r"""
request = function()
  local r = math.random(100)
  if r <= 50 then return get_one() end
  if r <= 80 then return list_page() end
  if r <= 90 then return create() end
  return patch_request() or get_one()
end""",
    "todobackend-list": 'request = function() return wrk.format("GET", "/todobackend/") end',
}


@dataclass(frozen=True, slots=True)
class Workload:
    """What the scripts need to know about the seeded data."""

    users: list[tuple[str, str, list[str]]]  # (token, list id, todo ids)
    patch_pool: list[tuple[str, str]]  # (todo id, token): fresh todos at version 1


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string for these ids and tokens


def script_for(scenario: str, workload: Workload, threads: int, directory: Path) -> Path:
    users = ",\n".join(
        "{auth=%s, list=%s, ids={%s}}"  # noqa: UP031 - Lua braces would need doubling in an f-string
        % (_lua_string(f"Bearer {token}"), _lua_string(list_id), ",".join(_lua_string(i) for i in ids))
        for token, list_id, ids in workload.users
    )
    patch = ",".join("{%s,%s}" % (_lua_string(i), _lua_string(t)) for i, t in workload.patch_pool)  # noqa: UP031
    parts = [
        f"USERS = {{{users}}}",
        f"PATCH = {{{patch}}}",
        f"THREADS = {threads}",
        _READS,
    ]
    if scenario in ("patch", "mixed"):
        parts.append(_PATCH_POOL)
    parts += [_REQUEST[scenario], DONE_LUA]
    path = directory / f"{scenario}.lua"
    path.write_text("\n".join(parts))
    return path


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors: connect, read, write, timeout
    non_2xx: int  # answers with a status of 400 or more (wrk's "status" errors)
    p999_ms: float = 0.0
    # Debian's wrk (4.x) is closed-loop: each connection sends its next request only when the last
    # one is answered, so a stall delays requests that were never sent instead of showing as their
    # latency (coordinated omission). Only wrk2's constant-rate mode (-R) corrects for it.
    co_corrected: bool = False


def run_wrk(url: str, script: Path, *, connections: int, threads: int, seconds: float) -> WrkResult:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk (make bench does it)")
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",  # wrk takes whole seconds
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    line = next((line for line in done.stdout.splitlines() if line.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    duration = raw["duration_us"] / 1e6
    return WrkResult(
        requests=raw["requests"],
        seconds=duration,
        rps=raw["requests"] / duration,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        p999_ms=raw["p999_us"] / 1000,
        co_corrected=False,
        errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        non_2xx=raw["status"],
    )
