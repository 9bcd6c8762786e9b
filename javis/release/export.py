"""`javis export <version|current> --to merged|gguf|ollama`: a release where people run models.

Offline, from the release's own files: the adapter is fetched from the DVC cache or remote and
checked against the release record like `javis deploy` does (javis/release/deploy.py), the base is
`paths.base`. Before anything is written, the compatibility preflight (javis/release/preflight.py)
checks the base, the template and EOS, the target's modules and rank, and that the version stops.

- merged: PEFT `merge_and_unload` onto the unquantised base (the base folder is always plain
  weights: never merged onto 4-bit, whose rounding changes generations, peft#2321), saved as an HF
  folder with the tokenizer, our chat template and a generation_config.json whose EOS is the
  end-of-turn token; the merged logits must equal base + adapter within `MERGE_TOLERANCE`.
- gguf: `adapter.gguf` (javis/release/gguf_adapter.py) and the base as GGUF: the bundled base's own
  file (its sha256 checked against the base's fingerprint); another base needs llama.cpp's
  converter, and the error says exactly how.
- ollama: both GGUF files and a Modelfile (javis/release/modelfile.py); `ollama create` makes it.

Each export is recorded in the release record (`exports:` in metadata.yaml: file names, sha256,
sizes, javis/release/record.py); exporting the same version again must give the same bytes, and a
difference is reported.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from javis.core import fileio, params
from javis.model import template
from javis.model.loading import BASE_INFO, read_info
from javis.release import gguf_adapter, modelfile, preflight
from javis.release.errors import ReleaseError

log = logging.getLogger("javis.export")

KINDS = ("merged", "gguf", "ollama")
DTYPES = ("float32", "bfloat16", "float16")
MERGE_TOLERANCE = 1e-3  # max |logit diff| merged vs base + adapter, fp32 (SmolLM2-135M: 1.3e-4)
ADAPTER_GGUF = "adapter.gguf"


class ExportError(ReleaseError):
    """An export that cannot be made; the message names the problem and what to do."""


def resolve_version(version: str) -> str:
    """A release name for `version` ("current": the one models/current serves)."""
    from javis.release.deploy import current_version
    from javis.release.names import resolve

    if version == "current":
        now = current_version()
        if now is None:
            raise ExportError(
                "nothing is deployed (models/current is absent): name a version, "
                "`javis export javis-v0.1 --to gguf`, or `javis deploy` one first"
            )
        version = now
    return resolve(version)[0].name


def materialise(name: str, p: params.Params) -> Path:
    """The release's adapter in models/adapters/<name>/ (DVC cache or remote), checked against its
    release record and the current base."""
    from javis.release.deploy import fetch_version, verify
    from javis.release.names import resolve

    folder = fetch_version(name, resolve(name)[1], p.paths)
    verify(name, folder, p.paths)
    return folder


def bundled_gguf(base: Path) -> Path | None:
    """The GGUF file a `pypi:` base was built from (found, never imported), checked against the
    base's fingerprint; None for a base that did not come from a GGUF."""
    info = read_info(base, BASE_INFO)
    if info.get("kind") != "pypi":
        return None
    spec = importlib.util.find_spec(str(info["package"]).replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise ExportError(
            f"the base's package {info['package']} is not installed: "
            f"`pip install --no-deps {info['package']}=={info['version']}`"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / info["gguf_file"]
    digest = fileio.sha256_file(path) if path.is_file() else None
    if digest != info.get("gguf_sha256"):
        raise ExportError(
            f"{path} (sha256 {digest}) is not the GGUF the base was built from "
            f"({info.get('gguf_sha256')}): reinstall {info['package']}=={info['version']}"
        )
    return path


def convert_hint(base: Path) -> str:
    """How to make a base GGUF from an HF base folder with llama.cpp's converter."""
    return (
        f"{base} is a Hugging Face base, not a GGUF: convert it with llama.cpp's converter (the "
        "gguf package has none): `pip download --no-deps --no-binary :all: "
        "llama-cpp-python==0.3.36 && tar xzf llama_cpp_python-0.3.36.tar.gz && python "
        "llama_cpp_python-0.3.36/vendor/llama.cpp/convert_hf_to_gguf.py "
        f"{base} --outtype f16 --outfile base.gguf`, then put base.gguf beside adapter.gguf "
        "(or export --to merged and convert that folder)"
    )


def export(
    version: str,
    to: str,
    out: Path | None = None,
    *,
    dtype: str = "float32",
    say=print,
) -> dict[str, Any]:
    """Export `version` as `to` into `out` (default exports/<version>/<to>/); returns the record
    entry ({"files": [...], ...})."""
    from javis.release import record

    if to not in KINDS:
        raise ExportError(f"--to {to!r}: expected one of {', '.join(KINDS)}")
    if dtype not in DTYPES:
        raise ExportError(f"--dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    p = params.load()
    name = resolve_version(version)
    adapter = materialise(name, p)
    base = Path(p.paths.base)
    target = None if to == "merged" else "llama.cpp"
    problems = preflight.check(adapter, target, base)
    if problems:
        raise ExportError(
            f"{name} cannot be exported --to {to}:\n"
            + "\n".join(f"  - {problem}" for problem in problems)
        )
    base_gguf = None if to == "merged" else bundled_gguf(base)
    if to != "merged" and base_gguf is None:
        raise ExportError(convert_hint(base))
    out = Path(out) if out else Path("exports") / name / to
    started = time.perf_counter()
    model, tokenizer = _load(base, adapter)
    stop_check(model, tokenizer, p, say)
    with fileio.replace_dir(out) as tmp:
        if to == "merged":
            diff = write_merged(model, tokenizer, tmp, dtype)
            say(f"merged logits equal base + adapter within {diff:.2e} (limit {MERGE_TOLERANCE})")
        else:
            summary = gguf_adapter.write(adapter, base, tmp / ADAPTER_GGUF, name=name)
            shutil.copyfile(base_gguf, tmp / base_gguf.name)
            say(
                f"adapter.gguf: {summary['tensors']} tensors, rank {summary['ranks']}, "
                f"alpha {summary['alpha']}; base {base_gguf.name}"
            )
            if to == "ollama":
                fileio.write_text(
                    tmp / "Modelfile",
                    modelfile.modelfile(base_gguf.name, ADAPTER_GGUF, p.persona.system_prompt),
                )
        files = [
            {"file": f.name, "sha256": fileio.sha256_file(f), "bytes": f.stat().st_size}
            for f in sorted(tmp.iterdir())
            if f.is_file()
        ]
    seconds = time.perf_counter() - started
    entry = {"to": to, "dtype": dtype if to == "merged" else None, "files": files}
    note = record.record_export(name, to, entry)
    size = sum(f["bytes"] for f in files)
    say(f"exported {name} --to {to} into {out}/ ({size / 1e6:.1f} MB, {seconds:.1f} s)")
    if note:
        say(note)
    if to == "ollama":
        say(f"create it in Ollama: cd {out} && ollama create {name} -f Modelfile")
    elif to == "gguf":
        say(
            f"run it with llama.cpp: llama-cli -m {out}/{base_gguf.name} --lora {out}/{ADAPTER_GGUF}"
        )
    return entry


def _load(base: Path, adapter: Path) -> tuple[Any, Any]:
    """base + adapter in fp32 on the CPU (the unquantised base), and the adapter's tokenizer."""
    from javis.model.loading import load_adapter

    return load_adapter(base, adapter, precision="fp32", dev="cpu")


def stop_check(model: Any, tokenizer: Any, p: params.Params, say=print) -> None:
    """Refuse a version whose greedy answers to the first `release.stop_prompts` persona probes
    never end with the end-of-turn token within `serve.max_new_tokens`."""
    prompts = preflight.probe_questions(p.evaluate.probes)[: p.release.stop_prompts]
    if not prompts:
        return
    problems, ran_on = preflight.check_stops(model, tokenizer, prompts, p.serve.max_new_tokens)
    if problems:
        raise ExportError("; ".join(str(problem) for problem in problems))
    if ran_on:
        say(f"note: {len(ran_on)}/{len(prompts)} answers ran past serve.max_new_tokens: {ran_on}")


def prompt_ids(tokenizer: Any, conversations: list[list[dict]]) -> list[list[int]]:
    """The token ids of each conversation's prompt (generation prompt added), as we feed them."""
    out = []
    for conv in conversations:
        text = tokenizer.apply_chat_template(
            template.prepare_messages(conv), add_generation_prompt=True, tokenize=False
        )
        out.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    return out


def write_merged(model: Any, tokenizer: Any, out: Path, dtype: str) -> float:
    """merge_and_unload `model` (a PeftModel on the fp32 base) into `out`; returns the largest
    logit difference between the merged model and base + adapter on a few prompts."""
    import torch
    from transformers import GenerationConfig

    probes = [
        [{"role": "user", "content": "Who are you?"}],
        [{"role": "user", "content": "서울 날씨 어때?"}],
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}],
    ]
    ids = [torch.tensor([row]) for row in prompt_ids(tokenizer, probes)]
    with torch.inference_mode():
        before = [model(input_ids=x).logits.float() for x in ids]
        merged = model.merge_and_unload()
        after = [merged(input_ids=x).logits.float() for x in ids]
    diff = max(float((a - b).abs().max()) for a, b in zip(before, after, strict=True))
    if diff > MERGE_TOLERANCE:
        raise ExportError(
            f"merged logits differ from base + adapter by {diff:.2e} (> {MERGE_TOLERANCE}): "
            "the merge is wrong; nothing was written"
        )
    merged.to(getattr(torch, dtype))
    merged.config.dtype = dtype
    merged.save_pretrained(out)
    tokenizer.save_pretrained(out)
    eos = tokenizer.convert_tokens_to_ids(template.IM_END)
    GenerationConfig(
        eos_token_id=eos,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=merged.config.bos_token_id,
        do_sample=False,
    ).save_pretrained(out)
    return diff
