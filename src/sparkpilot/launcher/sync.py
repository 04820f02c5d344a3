"""Model and image on every node, before any container starts.

Model: each node's copy is checked against the checkpoint's index (every shard it lists present,
sizes adding up to its total, symlinks resolving, no half-written `.incomplete` blob). A missing
or partial copy is sent from a node that has a complete one: node to node when the source node
can reach the target over SSH by itself (checked with BatchMode, host keys as configured),
otherwise relayed through this machine. A partial copy with no complete one anywhere refuses the
launch. No copy anywhere of a Hub model: the head downloads it (HF_TOKEN by name) and the others
get it from the head: never fetched twice.
Image: `docker save | docker load` from a node that has it, skipped where the image id matches.
"""

from __future__ import annotations

import json
import posixpath
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sparkpilot.launcher import compat, containers
from sparkpilot.launcher.deployment import Deployment, Node
from sparkpilot.launcher.events import Event, LaunchFailed
from sparkpilot.transport.base import Runner

HF_MOUNT_TARGET = "/root/.cache/huggingface"
CHUNK = 1 << 20
PROGRESS_EVERY_S = 1.0


@dataclass
class Copy:
    node: str
    path: str                     # the folder checked (a local folder, or a Hub snapshot)
    root: str                     # what is sent: the folder, or the Hub cache's models--org--name
    state: str = "missing"        # complete | partial | missing
    problems: list[str] = field(default_factory=list)
    bytes: int = 0


def model_root(dep: Deployment, node: Node, home: str) -> tuple[str, str] | None:
    """(folder to check, folder to send) of the plan's model on a node; None when unknown."""
    model_ref = next((a for a in node.launch.argv[2:3]), "")
    for m in node.launch.mounts:
        parts = containers.expand_home(m, home).split(":")
        if len(parts) >= 2 and parts[1].startswith("/models/") and parts[1] in " ".join(node.launch.argv):
            m2 = re.search(re.escape(parts[1]) + r"[^\s'\"]*", " ".join(node.launch.argv))
            served = m2.group(0) if m2 else parts[1]   # a Ray head's `bash -c "... vllm serve /models/..."` too
            return parts[0] + served[len(parts[1]):], parts[0]
    if "/" in dep.model and not dep.model.startswith((".", "/")):
        repo = "models--" + dep.model.replace("/", "--")
        base = f"{home}/.cache/huggingface/hub/{repo}"
        return base + "/snapshots/*", base
    return (model_ref, model_ref) if model_ref.startswith("/") else None


def listing_argv(path: str) -> list[str]:
    """One command: the folder's files (name, size, type after symlinks) and its index file."""
    script = ('d=$(ls -d $1 2>/dev/null | tail -n 1); [ -n "$d" ] && [ -d "$d" ] || { echo "MISSING"; exit 0; }; '
              'echo "DIR $d"; find -L "$d" -maxdepth 1 -printf "F\\t%f\\t%s\\t%y\\n" 2>/dev/null; '
              'case "$d" in */snapshots/*) b="$d/../../blobs";; *) b="$d";; esac; '
              'find "$b" -maxdepth 1 -name "*.incomplete" -printf "I\\t%f\\n" 2>/dev/null; '
              '[ -f "$d/model.safetensors.index.json" ] && { echo "INDEX"; cat "$d/model.safetensors.index.json"; }; true')
    return ["sh", "-c", script, "sh", path]


def judge_copy(node: str, path: str, root: str, text: str) -> Copy:
    """Pure: the copy's state from listing_argv's output."""
    c = Copy(node, path, root)
    if text.strip().startswith("MISSING") or "DIR " not in text:
        c.problems.append(f"no copy at {path}")
        return c
    head, _, index_text = text.partition("\nINDEX\n")
    files: dict[str, tuple[int, str]] = {}
    for line in head.splitlines():
        if line.startswith("DIR "):
            c.path = line[4:].strip()
        elif line.startswith("F\t"):
            _, name, size, kind = (line.split("\t") + ["", "", "", ""])[:4]
            if kind != "d":   # the folder itself, and sub-folders
                files[name] = (int(size) if size.isdigit() else 0, kind)
        elif line.startswith("I\t"):
            c.problems.append(f"a download is unfinished ({line[2:].strip()})")
    for name, (_, kind) in files.items():
        if kind == "l":
            c.problems.append(f"{name} is a symlink that does not resolve")
    shards = {n: s for n, (s, k) in files.items() if n.endswith(".safetensors")}
    if index_text.strip():
        try:
            index = json.loads(index_text)
        except json.JSONDecodeError:
            index = None
            c.problems.append("model.safetensors.index.json is not readable JSON (cut short?)")
        if isinstance(index, dict):
            listed = sorted(set((index.get("weight_map") or {}).values()))
            missing = [s for s in listed if s not in shards]
            if missing:
                c.problems.append(f"{len(missing)} of {len(listed)} shards missing ({', '.join(missing[:3])})")
            total = int((index.get("metadata") or {}).get("total_size") or 0)
            have = sum(shards.get(s, 0) for s in listed)
            if total and have < total:
                c.problems.append(f"shards hold {have:,} bytes, the index says at least {total:,} (cut short)")
    elif not shards:
        c.problems.append("no .safetensors weights")
    if "config.json" not in files:
        c.problems.append("no config.json")
    c.bytes = sum(s for s, _ in files.values())
    c.state = "complete" if not c.problems else "partial" if files else "missing"
    return c


def size(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


class Sync:
    def __init__(self, dep: Deployment, runners: dict[int, Runner], dry_run: bool = False):
        self.dep, self.runners, self.dry_run = dep, runners, dry_run
        self.homes: dict[int, str] = {}
        self._early: dict[tuple[str, int], Any] = {}   # prefetch()'s futures: ("home"|"image"|"listing", rank)

    def prefetch(self) -> None:
        """Start the read-only questions now, in threads (e.g. while pre-flight runs): each node's
        $HOME, image id and model listing; run() takes their answers instead of asking again."""
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=2 * len(self.dep.nodes), thread_name_prefix="sync-prefetch")
        for n in self.dep.nodes:
            runner = self.runners[n.rank]
            self._early[("image", n.rank)] = pool.submit(containers.image_id, runner, self.dep.image)
            home = self._early[("home", n.rank)] = pool.submit(containers.node_home, runner)
            self._early[("listing", n.rank)] = pool.submit(self._listing, n, home)
        pool.shutdown(wait=False)

    def _listing(self, n: Node, home: Any) -> Any:
        where = model_root(self.dep, n, home.result())
        return self.runners[n.rank].run(listing_argv(where[0]), timeout=60.0) if where else None

    def _asked(self, what: str, rank: int, ask: Any) -> Any:
        early = self._early.pop((what, rank), None)
        return early.result() if early is not None else ask()

    def run(self) -> Iterator[Event]:
        for n in self.dep.nodes:
            self.homes[n.rank] = self._asked("home", n.rank, lambda n=n: containers.node_home(self.runners[n.rank]))
        yield from self.image()
        yield from self.model()

    # ------------------------------------------------------------------ model
    def model(self) -> Iterator[Event]:
        copies: dict[int, Copy] = {}
        for n in self.dep.nodes:
            where = model_root(self.dep, n, self.homes[n.rank])
            if where is None:
                yield Event("sync", "model: not a local folder or Hub id; vLLM fetches it", node=n.name)
                return
            res = self._asked("listing", n.rank, lambda n=n, where=where: self.runners[n.rank].run(
                listing_argv(where[0]), timeout=60.0))
            copies[n.rank] = judge_copy(n.name, where[0], where[1], res.stdout)
            c = copies[n.rank]
            yield Event("sync", f"model {c.state}: {c.path}" + (f" ({'; '.join(c.problems)})" if c.problems and
                                                                  c.state != "missing" else ""),
                        node=n.name, data={"what": "model", "state": c.state, "problems": c.problems,
                                           "bytes": c.bytes})
        good = [r for r, c in copies.items() if c.state == "complete"]
        todo = [r for r, c in copies.items() if c.state != "complete"]
        if not todo:
            return
        if not good:
            partial = [copies[r] for r in todo if copies[r].state == "partial"]
            if partial:
                p = partial[0]
                raise LaunchFailed(f"model copy on {p.node} is incomplete ({'; '.join(p.problems)}) and no node "
                                   "has a complete one: finish the download (huggingface-cli download) and run up again")
            if "/" not in self.dep.model or self.dep.model.startswith((".", "/")):
                raise LaunchFailed(f"the model folder {copies[todo[0]].path} is on no node")
            yield from self._download(0)
            copies[0] = judge_copy(self.dep.head.name, copies[0].path, copies[0].root, self.runners[0].run(
                listing_argv(copies[0].path), timeout=60.0).stdout)
            if copies[0].state != "complete":
                raise LaunchFailed(f"the download on {self.dep.head.name} did not give a complete copy: "
                                   f"{'; '.join(copies[0].problems)}")
            good, todo = [0], [r for r in todo if r != 0]
        src = good[0]
        for dst in todo:
            root = copies[src].root
            parent, base = posixpath.split(root.rstrip("/"))
            dst_root = copies[dst].root
            dparent = posixpath.dirname(dst_root.rstrip("/"))
            yield from self.send(src, dst, ["tar", "-C", parent, "-cf", "-", base],
                                 ["sh", "-c", f'mkdir -p "$1" && rm -rf "$1/{base}" && tar -C "$1" -xf -', "sh", dparent],
                                 f"model {base}", copies[src].bytes)

    def _download(self, rank: int) -> Iterator[Event]:
        node = self.dep.nodes[rank]
        home = self.homes[rank]
        argv = ["docker", "run", "--rm", "-e", "HF_TOKEN", "-v", f"{home}/.cache/huggingface:{HF_MOUNT_TARGET}",
                "--entrypoint", "python3", self.dep.image, "-c",
                f"from huggingface_hub import snapshot_download; snapshot_download({self.dep.model!r})"]
        yield Event("sync", f"model on no node: downloading {self.dep.model} on {node.name} (once; the others "
                            "get it from there)", node=node.name, data={"what": "model", "how": "download"})
        if self.dry_run:
            return
        res = self.runners[rank].run(argv, timeout=6 * 3600)
        if res.rc != 0:
            raise LaunchFailed(f"download of {self.dep.model} on {node.name} failed: "
                               f"{(res.stderr.strip().splitlines() or [f'exit {res.rc}'])[-1]}")

    # ------------------------------------------------------------------ image
    def image(self) -> Iterator[Event]:
        image = self.dep.image
        ids = {n.rank: self._asked("image", n.rank, lambda n=n: containers.image_id(self.runners[n.rank], image))
               for n in self.dep.nodes}
        have = [r for r, i in ids.items() if i]
        if not have:
            yield Event("sync", f"image {image} is on no node: docker pulls it at start", data={"what": "image"})
            return
        ref = ids[0] or ids[have[0]]
        src = 0 if ids[0] else have[0]
        for n in self.dep.nodes:
            if ids[n.rank] == ref:
                yield Event("sync", f"image {image} present ({(ref or '')[7:19]})", node=n.name,
                            data={"what": "image", "state": "complete", "id": ref})
                continue
            other = ids[n.rank]
            why = f"a different id ({other[7:19]})" if other else "missing"
            yield Event("sync", f"image {image} {why}: sending it from {self.dep.nodes[src].name}", node=n.name,
                        data={"what": "image", "state": "missing" if not ids[n.rank] else "different"})
            yield from self.send(src, n.rank, ["docker", "save", image], ["docker", "load"], f"image {image}", None)

    # ------------------------------------------------------------------ transfer
    def send(self, src: int, dst: int, src_argv: list[str], dst_argv: list[str], what: str,
             total: int | None) -> Iterator[Event]:
        s, d = self.dep.nodes[src], self.dep.nodes[dst]
        direct, why = self._direct(src, dst)
        how = "node to node" if direct else "relayed through this machine"
        yield Event("sync", f"{what}: {s.name} -> {d.name}, {how} ({why})", node=d.name,
                    data={"what": what, "from": s.name, "how": "direct" if direct else "relay", "why": why})
        if self.dry_run:
            return
        start = time.monotonic()
        if direct:
            import shlex

            remote = f"{shlex.join(src_argv)} | ssh -o BatchMode=yes {shlex.quote(direct)} {shlex.quote(shlex.join(dst_argv))}"
            res = self.runners[src].run(["sh", "-c", remote], timeout=6 * 3600)
            if res.rc != 0:
                raise LaunchFailed(f"{what} {s.name} -> {d.name} failed: {(res.stderr.strip().splitlines() or ['?'])[-1]}")
            yield Event("sync", f"{what} sent in {time.monotonic() - start:.1f} s", node=d.name, data={"what": what})
            return
        yield from self._relay(src, dst, src_argv, dst_argv, what, total, start)

    def _direct(self, src: int, dst: int) -> tuple[str | None, str]:
        """The address the source node reaches the target at over its own SSH, or None and why not."""
        d = self.dep.nodes[dst]
        target = d.launch.env.get("VLLM_HOST_IP") or d.host.rsplit("@", 1)[-1]
        if d.host == "local" or self.dep.nodes[src].host == "local":
            return None, "one end is this machine"
        res = self.runners[src].run(["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", target, "true"],
                                    timeout=20.0)
        if res.rc == 0:
            return target, f"{self.dep.nodes[src].name} can ssh to {target} with its own key"
        return None, f"{self.dep.nodes[src].name} cannot ssh to {target} by itself (no trusted key)"

    def _relay(self, src: int, dst: int, src_argv: list[str], dst_argv: list[str], what: str,
               total: int | None, start: float) -> Iterator[Event]:
        d = self.dep.nodes[dst]
        reader = subprocess.Popen(compat.command_argv(self.runners[src], src_argv), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
        writer = subprocess.Popen(compat.command_argv(self.runners[dst], dst_argv), stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        sent, last = 0, time.monotonic()
        assert reader.stdout is not None and writer.stdin is not None
        try:
            while chunk := reader.stdout.read(CHUNK):
                writer.stdin.write(chunk)
                sent += len(chunk)
                if time.monotonic() - last >= PROGRESS_EVERY_S:
                    last = time.monotonic()
                    yield Event("sync", f"{what}: {size(sent)}" + (f" of {size(total)}" if total else ""),
                                node=d.name, data={"what": what, "bytes": sent, "total": total})
            writer.stdin.close()
        except BrokenPipeError:
            pass
        except BaseException:
            for p in (reader, writer):
                p.kill()
            raise
        rc_r, rc_w = reader.wait(), writer.wait()
        if rc_r != 0 or rc_w != 0:
            err = (writer.stderr.read() if writer.stderr else b"") or (reader.stderr.read() if reader.stderr else b"")
            raise LaunchFailed(f"{what} -> {d.name} failed: {err.decode('utf-8', 'replace').strip()[-200:]}")
        secs = time.monotonic() - start
        yield Event("sync", f"{what}: {size(sent)} in {secs:.1f} s ({sent / max(secs, 1e-3) / 1e9:.2f} GB/s)",
                    node=d.name, data={"what": what, "bytes": sent, "seconds": round(secs, 2)})
