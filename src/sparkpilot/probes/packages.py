"""Installed packages and versions: dpkg-query, apt-mark showhold, nvidia-ctk, docker, an image's env."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field


@dataclass
class Package:
    name: str
    version: str
    status: str  # dpkg's abbreviation, e.g. "ii", "hi" (held), "rc"

    @property
    def installed(self) -> bool:
        return len(self.status) >= 2 and self.status[1] == "i"

    @property
    def upstream(self) -> str:
        """'580.95.05' from '580.95.05-0ubuntu0.24.04.3', '29.2.1' from '5:29.2.1-1~ubuntu.24.04~noble'."""
        v = self.version.split(":", 1)[-1]
        return v.split("-", 1)[0]


@dataclass
class Packages:
    packages: list[Package] = field(default_factory=list)

    def installed(self) -> list[Package]:
        return [p for p in self.packages if p.installed]

    def get(self, name: str) -> Package | None:
        return next((p for p in self.installed() if p.name == name), None)

    def driver_packages(self) -> list[Package]:
        return [p for p in self.installed() if re.match(r"nvidia-(driver|dkms|utils)-\d+", p.name)]


_PKG = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")                 # Debian policy 5.6.1
_PKG_ARCH = re.compile(r"^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?$")
_STATUS = re.compile(r"^(?:[uihrp][ncUCFWith][ R]?|-)$")       # ${db:Status-Abbrev}
_DPKG_L_HEAD = ("Desired=", "| Status=", "|/ Err?=", "||/ ", "+++-")


def parse_dpkg_query(text: str) -> Packages:
    """`dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n' PATTERN...`;
    also reads `dpkg -l` tables (status, name, version, ...)."""
    pkgs = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(_DPKG_L_HEAD):
            continue
        if "\t" in line:
            parts = line.split("\t")
            if len(parts) >= 3 and _PKG.match(parts[0]) and _STATUS.match(parts[2].strip() or "-"):
                pkgs.append(Package(parts[0], parts[1], parts[2].strip()))
                continue
            raise ValueError(f"not a dpkg-query row: {line[:60]!r}")
        m = re.match(r"^([uihrp][ncUCFWith])[ R]?\s+(\S+)\s+(\S+)", line)
        if not m or not _PKG.match(m.group(2).split(":")[0]):
            raise ValueError(f"not a dpkg-query or dpkg -l row: {line[:60]!r}")
        pkgs.append(Package(m.group(2).split(":")[0], m.group(3), m.group(1)))
    return Packages(pkgs)


@dataclass
class Holds:
    packages: list[str]


def parse_showhold(text: str) -> Holds:
    """`apt-mark showhold`: one package name a line (nothing: nothing held)."""
    names = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for n in names:
        if not _PKG_ARCH.match(n) or re.match(r"^\d+\.", n):   # a version or a date, not a package
            raise ValueError(f"not a package name: {n[:60]!r}")
    return Holds(names)


@dataclass
class Version:
    version: str

    @property
    def series(self) -> str:
        return ".".join(self.version.split(".")[:2])


def parse_ctk_version(text: str) -> Version:
    m = re.search(r"NVIDIA Container Toolkit CLI version\s+(\d+\.\d+\.\d+\S*)", text)
    if not m:
        raise ValueError("no 'NVIDIA Container Toolkit CLI version' line")
    return Version(m.group(1))


@dataclass
class DockerVersion:
    client: str | None
    server: str | None          # None when the daemon did not answer
    server_error: str | None = None


def parse_docker_version(text: str) -> DockerVersion:
    """`docker version --format '{{json .}}'`: one JSON object with Client and Server."""
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object")
    data = json.loads(text[start:].splitlines()[0])
    client = (data.get("Client") or {}).get("Version")
    server = (data.get("Server") or {}).get("Version") if data.get("Server") else None
    return DockerVersion(client, server)


@dataclass
class ImageEnv:
    env: dict[str, str]

    @property
    def cuda_version(self) -> str | None:
        return self.env.get("CUDA_VERSION")

    @property
    def cuda_series(self) -> str | None:
        v = self.cuda_version
        return ".".join(v.split(".")[:2]) if v else None


def parse_image_env(text: str) -> ImageEnv:
    """`docker image inspect --format '{{json .Config.Env}}' IMAGE`: a JSON list of KEY=value."""
    data = json.loads(text.strip())
    if not isinstance(data, list):
        raise ValueError("not a JSON list")
    env = {}
    for item in data:
        if not isinstance(item, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", item):
            raise ValueError(f"not a KEY=value environment entry: {str(item)[:60]!r}")
        key, _, value = item.partition("=")
        env[key] = value
    return ImageEnv(env)


@dataclass
class ImageRay:
    present: bool | None          # None: the image is not on the host, so it could not be tried
    version: str | None = None


def parse_image_ray(text: str) -> ImageRay:
    """The image Ray probe (sparkpilot.probes.image_ray_probe): `ray VERSION` when `import ray` works in
    the image, `no-ray` when it fails, `no-image` when the image is not on the host; each after `image-ray:`."""
    words = text.split()
    if words[:1] != ["image-ray:"]:
        raise ValueError(f"not the image Ray probe's answer: {text.strip()[:60]!r}")
    words = words[1:]
    if words[:1] == ["ray"]:
        return ImageRay(True, words[1] if len(words) > 1 else None)
    if words[:1] == ["no-ray"]:
        return ImageRay(False)
    if words[:1] == ["no-image"]:
        return ImageRay(None)
    raise ValueError(f"not the image Ray probe's answer: {text.strip()[:60]!r}")
