"""autoprof: threshold-triggered CPU and heap profiles in pprof format, and ``/debug/pprof``.

    profile.py    StackProfile: stacks with values and labels (every profile here is one)
    pprof.py      profile.proto, gzipped: written for ``go tool pprof``, read back for the CLI
    cpu.py        the sampler (every thread, ~50 Hz, asyncio task names as labels)
    heap.py       in-use memory by allocation site (tracemalloc)
    tasks.py      every asyncio task and thread with its stack
    flamegraph.py a self-contained SVG
    usage.py      what the watcher measures (cgroup or process), and the event-loop lag probe
    triggers.py   when a value should produce a report
    watcher.py    the thread that checks, captures and reports
    reporters.py  directory, Slack-compatible webhook, alert queue
    peers.py      each worker's socket, so one worker can profile another
    ondemand.py   profiles for ``/debug/pprof``: this worker, another, or all merged
    autoprof.py   all of it wired for one worker

Nothing is imported here, so that ``todostack serve`` can read ``peers.PEER_DIR_ENV`` without
loading prometheus_client before its multiprocess directory is set.
"""
