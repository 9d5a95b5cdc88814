"""A local stand-in for Harbor's OCI API: Debian's docker-registry (distribution 2.8) on 127.0.0.1, TLS with a
throwaway CA, htpasswd (bcrypt) authentication.

It proves what the pipeline does against an OCI registry with TLS and credentials (push by digest, charts and
SBOMs as OCI artifacts, pull back, refusal of anonymous pushes). What only a real Harbor does (its scanner, robot
accounts' scopes, content-trust policies, replication) is listed in docs/deploy.md.

    python deploy/release/local_registry.py serve --state DIR   # prints one JSON line, serves until SIGTERM
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

USER = "robot-release"


@dataclass(frozen=True)
class RegistryAccess:
    """What a client needs: host:port, credentials, and the CA that signed the registry's certificate."""

    host: str
    user: str
    password: str
    ca: Path

    @property
    def cert_dir(self) -> Path:
        """A directory holding only ca.crt, as `--cert-dir` options want it."""
        return self.ca.parent

    def as_json(self) -> str:
        return json.dumps({"host": self.host, "user": self.user, "password": self.password, "ca": str(self.ca)})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_pki(state: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it (EC P-256, valid one day)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "todostack release test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    # Clients read a certificate directory holding the CA only (containers/image takes any *.key there as a
    # client certificate's key), so the server's own files live apart.
    (state / "certs").mkdir(exist_ok=True)
    (state / "server").mkdir(exist_ok=True)
    ca_path = state / "certs" / "ca.crt"
    cert_path, key_path = state / "server" / "server.crt", state / "server" / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


class LocalRegistry:
    """docker-registry with TLS and htpasswd, started on a free port; stopped (and its storage dropped) on exit."""

    def __init__(self, state: Path | None = None) -> None:
        self._own_state = state is None
        self.state = Path(tempfile.mkdtemp(prefix="todostack-registry-")) if state is None else state
        self._process: subprocess.Popen[bytes] | None = None
        self.access: RegistryAccess | None = None

    def start(self, timeout: float = 60.0) -> RegistryAccess:
        self.state.mkdir(parents=True, exist_ok=True)
        ca, cert, key = _write_pki(self.state)
        password = secrets.token_urlsafe(24)
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
        (self.state / "htpasswd").write_text(f"{USER}:{hashed}\n")
        port = _free_port()
        (self.state / "storage").mkdir(exist_ok=True)
        config = {
            "version": 0.1,
            "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": str(self.state / "storage")}, "delete": {"enabled": True}},
            "http": {
                "addr": f"127.0.0.1:{port}",
                "secret": secrets.token_urlsafe(24),
                "tls": {"certificate": str(cert), "key": str(key)},
            },
            "auth": {"htpasswd": {"realm": "todostack-release", "path": str(self.state / "htpasswd")}},
        }
        # JSON is YAML: no YAML writer needed.
        (self.state / "config.yml").write_text(json.dumps(config, indent=2))
        log = (self.state / "registry.log").open("ab")
        self._process = subprocess.Popen(
            ["docker-registry", "serve", str(self.state / "config.yml")],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.access = RegistryAccess(f"127.0.0.1:{port}", USER, password, ca)
        self._wait_until_answering(timeout)
        return self.access

    def _wait_until_answering(self, timeout: float) -> None:
        assert self.access is not None
        assert self._process is not None
        context = ssl.create_default_context(cafile=str(self.access.ca))
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {(self.state / 'registry.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"https://{self.access.host}/v2/", context=context, timeout=2)
            except urllib.error.HTTPError as answered:
                if answered.code == 401:  # up, and asking for credentials
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"docker-registry did not answer on {self.access.host} within {timeout} s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=15)
        if self._own_state:
            subprocess.run(["rm", "-rf", str(self.state)], check=False)

    def __enter__(self) -> RegistryAccess:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("--state", type=Path, required=True, help="directory for its PKI, htpasswd and storage")
    args = parser.parse_args(argv)
    registry = LocalRegistry(args.state)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    access = registry.start()
    print(access.as_json(), flush=True)
    try:
        while not stopping and registry._process is not None and registry._process.poll() is None:
            time.sleep(0.2)
    finally:
        registry.stop()
    return 0 if stopping else 1


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main())
