"""`todostack-operator`: run the operator (`run`) or print its generated CRD (`crd`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from todostack_operator.crd import render_crd
from todostack_operator.settings import OperatorConfig, SettingsError


def _run(config: OperatorConfig) -> int:
    import kopf  # the `operator` extra: `todostack-operator crd` works without it
    from prometheus_client import start_http_server

    from todostack_operator.handlers import Runtime, register

    kopf.configure(
        verbose=config.log_level == "debug",
        quiet=config.log_level in ("warning", "error"),
        log_format=kopf.LogFormat.JSON if config.log_format == "json" else kopf.LogFormat.FULL,
        log_refkey="object",
    )
    runtime = Runtime(config=config)
    registry = kopf.OperatorRegistry()
    register(registry, runtime)
    if config.metrics_port:
        start_http_server(config.metrics_port, registry=runtime.metrics.registry)
    asyncio.run(
        kopf.operator(
            registry=registry,
            clusterwide=not config.namespaces,
            namespaces=config.namespaces,
            standalone=config.peering is None,
            peering_name=config.peering,
            liveness_endpoint=f"http://0.0.0.0:{config.health_port}/healthz",
        )
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="todostack-operator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="reconcile TodoStack resources (settings: TODOSTACK_OPERATOR_* variables)")
    commands.add_parser("crd", help="print the TodoStack CustomResourceDefinition generated from the spec structs")
    args = parser.parse_args(argv)
    if args.command == "crd":
        sys.stdout.write(render_crd())
        return 0
    try:
        config = OperatorConfig.from_env()
    except SettingsError as exc:
        print(f"todostack-operator: {exc}", file=sys.stderr)
        return 2
    return _run(config)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
