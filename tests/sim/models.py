"""Models made on this machine (image/make_models.py, run inside the engine image) and placed in a
simulated node's Hugging Face cache, as `huggingface-cli download` leaves them.

    MODELS                       name -> Hugging Face id the node's cache holds it under
    ensure(names) -> Path        the cached models (made if missing; keyed by make_models.py)
    place(node, name)            into <node home>/.cache/huggingface/hub/models--sparkpilot-sim--<name>
                                 (blobs hard-linked from the machine cache: no extra disk); a model
                                 not placed is simply missing on that node

tiny-random (~0.4 MB) and fixed-sentence (same shape, greedy answer FIXED_SENTENCE) serve in a real
vLLM; big-random is ~2.2 GB in 4 shards (~25 s to make once per machine).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from . import images
from .dockerd import copy_data_root

MODELS = {"tiny-random": "sparkpilot-sim/tiny-random", "fixed-sentence": "sparkpilot-sim/fixed-sentence",
          "big-random": "sparkpilot-sim/big-random"}
FIXED_SENTENCE = "The simulated Spark answered from a real vLLM engine."
REVISION = "0" * 40  # the snapshot's commit hash (there is no hub)
MAKER = images.IMAGE_DIR / "make_models.py"


def models_dir() -> Path:
    return images.CACHE / f"models-{images._hash(images.engine_key(), MAKER.read_bytes())}"


def ensure(names: list[str] | None = None) -> Path:
    """Make the models that are missing (inside the engine image, on the template data root)."""
    names = names or ["tiny-random", "fixed-sentence"]
    for n in names:
        if n not in MODELS:
            raise ValueError(f"unknown simulated model `{n}` (known: {', '.join(MODELS)})")
    if set(names) & {"tiny-random", "fixed-sentence"}:  # the small ones together: one start of torch
        names = sorted(set(names) | {"tiny-random", "fixed-sentence"})
    out = models_dir()
    missing = [n for n in names if not (out / n / ".done").exists()]
    if not missing:
        return out
    template = images.build()
    with images._lock("models.lock"):
        missing = [n for n in names if not (out / n / ".done").exists()]
        if not missing:
            return out
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="make-", dir=out))
        scratch = Path(tempfile.mkdtemp(prefix="models-docker-", dir=images.CACHE))
        try:  # a hard-linked copy of the template: nodes may be copying the template meanwhile
            copy_data_root(str(template / "data"), str(scratch / "data"))
            with images.TemplateDockerd(scratch / "data") as d:
                d.docker("run", "--rm", "--network", "none", "-v", f"{tmp}:/out", "-v", f"{MAKER}:/make_models.py:ro",
                         images.ENGINE_IMAGE, "python", "/make_models.py", "/out", *missing, timeout=900)
            for n in missing:
                shutil.rmtree(out / n, ignore_errors=True)
                os.rename(tmp / n, out / n)
                (out / n / ".done").write_text("")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(scratch, ignore_errors=True)
    return out


def hf_home(node) -> str:
    """The node's Hugging Face cache root (its home is <node dir>/home, as over ssh)."""
    return os.path.join(node.dir, "home", ".cache", "huggingface")


def place(node, name: str) -> str:
    """Put a made model in the node's HF cache (blobs hard-linked); returns its snapshot dir."""
    src = ensure([name]) / name
    repo = Path(hf_home(node), "hub", "models--" + MODELS[name].replace("/", "--"))
    snap = repo / "snapshots" / REVISION
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snap.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(REVISION)
    for f in sorted(src.iterdir()):
        if f.name.startswith("."):
            continue
        blob = repo / "blobs" / _blob_id(f)
        if not blob.exists():
            try:
                os.link(f, blob)
            except OSError:
                shutil.copy2(f, blob)
        link = snap / f.name
        if not link.is_symlink():
            link.symlink_to(os.path.relpath(blob, snap))
    return str(snap)


def remove(node, name: str) -> None:
    shutil.rmtree(Path(hf_home(node), "hub", "models--" + MODELS[name].replace("/", "--")), ignore_errors=True)


def _blob_id(path: Path) -> str:
    """The blob's name as the hub names it: sha256 for large (LFS) files, git's blob sha1 otherwise."""
    size = path.stat().st_size
    if size > 10 * 2**20:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(2**22), b""):
                h.update(chunk)
        return h.hexdigest()
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % size + data).hexdigest()
