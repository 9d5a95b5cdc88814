"""The packaged chart to and from an OCI registry, through Helm's own registry client (helm-python-sdk).

Runs as its own process because Helm's Go TLS stack reads SSL_CERT_FILE once, when the library loads: the
pipeline starts it with a bundle that trusts the registry's CA. Credentials come from REGISTRY_USER and
REGISTRY_PASSWORD, never from the command line.

    python chart_oci.py push CHART.tgz oci://HOST/PATH --name N --version V -> {"ref": ..., "digest": ...}
    python chart_oci.py pull oci://HOST/PATH/NAME@DIGEST DIR -> {"archive": ...}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import helm_python


def _client(host: str) -> helm_python.RegistryClient:
    # The login lives in HELM_REGISTRY_CONFIG (the pipeline's own folder), never in ~/.config/helm.
    client = helm_python.RegistryClient(credentials_file=os.environ["HELM_REGISTRY_CONFIG"])
    client.login(host, os.environ["REGISTRY_USER"], os.environ["REGISTRY_PASSWORD"])
    return client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    push = sub.add_parser("push")
    push.add_argument("archive", type=Path)
    push.add_argument("remote")
    push.add_argument("--name", required=True, help="the chart's name (the archive's Chart.yaml)")
    push.add_argument("--version", required=True, help="the chart's version")
    pull = sub.add_parser("pull")
    pull.add_argument("ref")
    pull.add_argument("destination", type=Path)
    args = parser.parse_args(argv)
    helm_python.disable_logging()

    if args.command == "push":
        host = args.remote.removeprefix("oci://").split("/", 1)[0]
        client = _client(host)
        try:
            helm_python.push(str(args.archive), args.remote, client=client)
            ref = f"{args.remote}/{args.name}:{args.version}"
            resolved = client.resolve(ref)
        finally:
            client.close()
        json.dump({"ref": ref, "digest": resolved["digest"], "media_type": resolved["media_type"]}, sys.stdout)
        return 0

    host = args.ref.removeprefix("oci://").split("/", 1)[0]
    args.destination.mkdir(parents=True, exist_ok=True)
    client = _client(host)
    try:
        before = set(args.destination.glob("*.tgz"))
        answer = helm_python.pull(args.ref, client=client, destination=str(args.destination))
    finally:
        client.close()
    pulled = sorted(set(args.destination.glob("*.tgz")) - before) or sorted(args.destination.glob("*.tgz"))
    json.dump({"archive": str(pulled[-1]) if pulled else None, "answer": answer}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
