"""The Traefik objects a TodoStack with an ingress owns: the Middlewares and the IngressRoute chaining them."""

from __future__ import annotations

from todostack_operator.naming import SERVICE_PORT, Manifest, Owner, child_metadata
from todostack_operator.spec import TodoStackSpec

__all__ = ["MIDDLEWARE_SUFFIXES", "ingress_route", "middlewares"]

MIDDLEWARE_SUFFIXES = ("ratelimit", "headers", "circuitbreaker", "retry")


def _middleware(owner: Owner, suffix: str, body: Manifest) -> Manifest:
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "Middleware",
        "metadata": child_metadata(owner, f"{owner.name}-{suffix}", "edge"),
        "spec": body,
    }


def middlewares(owner: Owner, spec: TodoStackSpec) -> list[Manifest]:
    """The Traefik Middlewares the IngressRoute chains, in order: rate limit, headers, circuit breaker, retry."""
    if spec.ingress is None:
        return []
    chosen = spec.ingress.middlewares
    out: list[Manifest] = []
    if chosen.rate_limit is not None:
        limit = {"average": chosen.rate_limit.average, "burst": chosen.rate_limit.burst}
        out.append(_middleware(owner, "ratelimit", {"rateLimit": limit}))
    if chosen.security_headers:
        headers = {
            "frameDeny": True,
            "contentTypeNosniff": True,
            "browserXssFilter": True,
            "referrerPolicy": "no-referrer",
            "stsSeconds": 31536000,
            "stsIncludeSubdomains": True,
        }
        out.append(_middleware(owner, "headers", {"headers": headers}))
    if chosen.circuit_breaker is not None:
        out.append(
            _middleware(owner, "circuitbreaker", {"circuitBreaker": {"expression": chosen.circuit_breaker.expression}})
        )
    if chosen.retry is not None:
        retry = {"attempts": chosen.retry.attempts, "initialInterval": chosen.retry.initial_interval}
        out.append(_middleware(owner, "retry", {"retry": retry}))
    return out


def ingress_route(owner: Owner, spec: TodoStackSpec) -> Manifest | None:
    if spec.ingress is None:
        return None
    chain: list[Manifest] = [{"name": m["metadata"]["name"]} for m in middlewares(owner, spec)]
    for ref in spec.ingress.middlewares.extra:
        chain.append({"name": ref.name, **({"namespace": ref.namespace} if ref.namespace else {})})
    route: Manifest = {
        "match": f"Host(`{spec.ingress.host}`)",
        "kind": "Rule",
        "services": [{"name": owner.name, "port": SERVICE_PORT}],
    }
    if chain:
        route["middlewares"] = chain
    body: Manifest = {"entryPoints": list(spec.ingress.entry_points), "routes": [route]}
    if spec.ingress.tls_secret_name:
        body["tls"] = {"secretName": spec.ingress.tls_secret_name}
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "IngressRoute",
        "metadata": child_metadata(owner, owner.name, "edge"),
        "spec": body,
    }
