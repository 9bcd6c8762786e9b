"""Contract tests (not proof that vLLM or RunPod work with javis): `javis deploy`'s vLLM and RunPod
targets against small stand-in servers on 127.0.0.1 that answer with the request and response
shapes vLLM's runtime LoRA API and RunPod's REST API document; plus the compatibility preflight
on real tiny adapters, and the `vllm serve` command `javis serve --engine vllm` prints."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from helpers import make_adapter, serving, set_params

from javis.core import params
from javis.release import deploy, engines, preflight


def standin_vllm(refuse: set[str] | None = None):
    """vLLM's runtime LoRA endpoints as documented (VLLM_ALLOW_RUNTIME_LORA_UPDATING=True):
    POST /v1/load_lora_adapter {lora_name, lora_path} -> 200 text or 400 error JSON;
    POST /v1/unload_lora_adapter {lora_name}; GET /v1/models lists base and adapters."""
    app = FastAPI()
    app.state.loras = {"javis-v0.1": "/old"}
    app.state.calls = []
    refuse = refuse or set()

    def error(message: str) -> JSONResponse:
        return JSONResponse(
            {"object": "error", "message": message, "type": "BadRequestError", "code": 400}, 400
        )

    @app.get("/v1/models")
    def models() -> dict:
        data = [{"id": "base", "object": "model", "root": "/base", "parent": None}]
        data += [
            {"id": n, "object": "model", "root": p, "parent": "base"}
            for n, p in app.state.loras.items()
        ]
        return {"object": "list", "data": data}

    @app.post("/v1/load_lora_adapter")
    async def load(request: Request):
        body = await request.json()
        app.state.calls.append(("load", body))
        name = body["lora_name"]
        if name in refuse:
            return error(f"Loading lora {name} failed: No adapter found for {body['lora_path']}")
        if name in app.state.loras:
            return error(f"The lora adapter '{name}' has already been loaded.")
        app.state.loras[name] = body["lora_path"]
        return PlainTextResponse(f"Success: LoRA adapter '{name}' added successfully.")

    @app.post("/v1/unload_lora_adapter")
    async def unload(request: Request):
        body = await request.json()
        app.state.calls.append(("unload", body))
        if app.state.loras.pop(body["lora_name"], None) is None:
            return error(f"The lora adapter '{body['lora_name']}' cannot be found.")
        return PlainTextResponse(
            f"Success: LoRA adapter '{body['lora_name']}' removed successfully."
        )

    return app


def test_vllm_switch_loads_checks_then_unloads_contract(tmp_path):
    app = standin_vllm()
    said: list[str] = []
    with serving(app) as url:
        engines.vllm_switch(url, "javis-v0.2", tmp_path / "v0.2", "javis-v0.1", log=said.append)
    assert app.state.calls == [
        ("load", {"lora_name": "javis-v0.2", "lora_path": str(tmp_path / "v0.2")}),
        ("unload", {"lora_name": "javis-v0.1"}),
    ], "load the new version under its own name, then unload the old one"
    assert list(app.state.loras) == ["javis-v0.2"], app.state.loras


def test_vllm_refusal_leaves_the_old_version_contract(tmp_path):
    app = standin_vllm(refuse={"javis-v0.2"})
    with serving(app) as url, pytest.raises(engines.EngineError) as err:
        engines.vllm_switch(url, "javis-v0.2", tmp_path / "v0.2", "javis-v0.1", log=print)
    assert "No adapter found" in str(err.value), "vLLM's own reason is passed on"
    assert "javis-v0.1 keeps serving" in str(err.value), err.value
    assert list(app.state.loras) == ["javis-v0.1"], "the old version stays loaded"


def test_vllm_unreachable_says_so():
    with pytest.raises(engines.EngineError, match="cannot reach"):
        engines.vllm_models("http://127.0.0.1:9")


def standin_runpod():
    """RunPod's REST API (rest.runpod.io/v1) as documented: GET/PATCH /endpoints/{id},
    POST /templates; bearer auth."""
    app = FastAPI()
    app.state.endpoint = {"id": "ep1", "templateId": "tpl-old"}
    app.state.templates = {}
    app.state.auth = set()

    @app.middleware("http")
    async def auth(request: Request, call_next):
        app.state.auth.add(request.headers.get("authorization"))
        if request.headers.get("authorization") != "Bearer rp-key":
            return JSONResponse({"error": "unauthorized"}, 401)
        return await call_next(request)

    @app.get("/endpoints/{ident}")
    def get_endpoint(ident: str) -> dict:
        return app.state.endpoint

    @app.post("/templates")
    async def create_template(request: Request) -> dict:
        body = await request.json()
        ident = f"tpl-{len(app.state.templates) + 1}"
        app.state.templates[ident] = body
        return {"id": ident, **body}

    @app.patch("/endpoints/{ident}")
    async def patch_endpoint(ident: str, request: Request) -> dict:
        app.state.endpoint.update(await request.json())
        return app.state.endpoint

    return app


@pytest.fixture
def released(tiny_base, workdir) -> Path:
    """A fetched version folder in the workdir project, as `javis deploy` leaves it."""
    folder = make_adapter(tiny_base, workdir / "models/adapters/javis-v0.2", seed=2, rank=8)
    return folder


def test_runpod_env_and_template_switch_contract(released, workdir, monkeypatch):
    app = standin_runpod()
    said: list[str] = []
    with serving(app) as url:
        set_params(
            workdir,
            deploy={"target": "runpod", "runpod_endpoint_id": "ep1", "runpod_api": url},
        )
        monkeypatch.setenv("RUNPOD_API_KEY", "rp-key")
        got = deploy.engine_deploy(params.load(), "javis-v0.2", released, "javis-v0.1", said.append)
    assert got == {"runpod_template": "tpl-1", "runpod_previous_template": "tpl-old"}, got
    assert app.state.endpoint["templateId"] == "tpl-1", "the endpoint now uses the new template"
    env = app.state.templates["tpl-1"]["env"]
    assert env["ENABLE_LORA"] == "true", env
    assert json.loads(env["LORA_MODULES"])[0]["name"] == "javis-v0.2", env["LORA_MODULES"]
    path = json.loads(env["LORA_MODULES"])[0]["path"]
    assert path == "/runpod-volume/javis/adapters/javis-v0.2", "a path the worker can reach"
    assert env["CUSTOM_CHAT_TEMPLATE"] == (released / "chat_template.jinja").read_text(), (
        "our template travels, not the base's"
    )
    assert env["TOOL_CALL_PARSER"] == "hermes", env
    assert env["ENABLE_AUTO_TOOL_CHOICE"] == "true", env
    assert env["MAX_LORA_RANK"] == "64", env
    assert env["MODEL_NAME"] == params.load().base.name, env
    assert app.state.auth == {"Bearer rp-key"}, "the API key is sent as a bearer token"


def test_runpod_rollback_reuses_the_earlier_template_contract(released, workdir, monkeypatch):
    app = standin_runpod()
    deploy.DEPLOY_LOG.parent.mkdir(parents=True, exist_ok=True)
    deploy.DEPLOY_LOG.write_text(
        json.dumps({"version": "javis-v0.2", "runpod_template": "tpl-v02"}) + "\n"
    )
    with serving(app) as url:
        set_params(
            workdir, deploy={"target": "runpod", "runpod_endpoint_id": "ep1", "runpod_api": url}
        )
        monkeypatch.setenv("RUNPOD_API_KEY", "rp-key")
        got = deploy.engine_deploy(params.load(), "javis-v0.2", released, "javis-v0.3", print)
    assert got["runpod_template"] == "tpl-v02", "the template made for that version is reused"
    assert app.state.templates == {}, "no new template for a version that had one"


def test_runpod_without_a_key_writes_the_env_and_says_what_to_set(released, workdir, monkeypatch):
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    set_params(workdir, deploy={"target": "runpod"})
    said: list[str] = []
    got = deploy.engine_deploy(params.load(), "javis-v0.2", released, None, said.append)
    env = json.loads(Path(got["runpod_env"]).read_text())
    assert env["ENABLE_LORA"] == "true", env
    assert "RUNPOD_API_KEY" in said[0], said
    assert "runpod_endpoint_id" in said[0], said


def test_runpod_refuses_a_local_volume_path(released):
    with pytest.raises(engines.EngineError, match="/runpod-volume"):
        engines.runpod_env("base", "javis-v0.2", str(released.parent), 64, released)


def test_vllm_target_runs_the_preflight_first(tiny_base, workdir):
    bad = make_adapter(
        tiny_base, workdir / "models/adapters/javis-v0.3", seed=3, modules_to_save=["lm_head"]
    )
    set_params(workdir, deploy={"target": "vllm", "vllm_url": "http://127.0.0.1:9"})
    with pytest.raises(preflight.PreflightError, match="modules_to_save"):
        deploy.engine_deploy(params.load(), "javis-v0.3", bad, "javis-v0.2", print)


# --- the preflight, on real tiny adapters --------------------------------------------------------


def test_preflight_passes_a_javis_adapter(released):
    assert preflight.problems(released, "vllm", max_rank=64) == [], "a plain LoRA on q/v fits"


@pytest.mark.parametrize(
    ("lora", "max_rank", "reason"),
    [
        ({"modules_to_save": ["lm_head"]}, 64, "modules_to_save"),
        ({"target_modules": ["q_proj", "embed_tokens"]}, 64, "embed_tokens"),
        ({"rank": 16}, 8, "rank 16 is above"),
        ({}, 48, "max rank 48 is not one vllm accepts"),
    ],
)
def test_preflight_refuses_with_the_reason(tiny_base, tmp_path, lora, max_rank, reason):
    rank = lora.pop("rank", 4)
    folder = make_adapter(tiny_base, tmp_path / "a", seed=1, rank=rank, **lora)
    with pytest.raises(preflight.PreflightError) as err:
        preflight.require(folder, "vllm", max_rank=max_rank)
    assert reason in str(err.value), err.value
    assert "nothing was switched" in str(err.value), err.value


def test_preflight_refuses_another_base_and_a_missing_template(released):
    (released / "javis_train.json").write_text(json.dumps({"base": {"id": "Qwen/Qwen2.5-7B"}}))
    (released / "chat_template.jinja").unlink()
    found = preflight.problems(released, "runpod", max_rank=64, base_name="HuggingFaceTB/SmolLM2")
    assert any("trained on base 'Qwen/Qwen2.5-7B'" in f for f in found), found
    assert any("chat_template.jinja" in f for f in found), found


def test_every_target_states_its_source():
    for name in ("vllm", "runpod"):
        target = preflight.TARGETS[name]
        assert "vllm/lora/peft_helper.py" in target.source, (
            f"{name} names where its lists come from"
        )


# --- javis serve --engine vllm ------------------------------------------------------------------


def test_serve_engine_vllm_prints_the_command(released, workdir, capsys):
    from javis.app import cli

    os.symlink(Path("adapters") / "javis-v0.2", workdir / "models/current")
    assert cli.main(["serve", "--engine", "vllm"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("VLLM_ALLOW_RUNTIME_LORA_UPDATING=True vllm serve "), out
    folder = released.resolve()
    for part in (
        "--enable-lora",
        f"--lora-modules javis-v0.2={folder}",
        "--max-lora-rank 64",
        f"--chat-template {folder}/chat_template.jinja",
        "--enable-auto-tool-choice",
        "--tool-call-parser hermes",
    ):
        assert part in out, f"{part!r} missing from {out}"


def test_vllm_deploy_warns_when_the_chat_template_changed(tmp_path):
    """vLLM renders every LoRA with its start-up --chat-template: a persona change needs a restart."""
    old, new, same = (tmp_path / n for n in ("javis-v0.1", "javis-v0.2", "javis-v0.3"))
    for folder, text in (
        (old, "You are JAVIS."),
        (new, "You are Jarvis."),
        (same, "You are JAVIS."),
    ):
        folder.mkdir()
        (folder / "chat_template.jinja").write_text(text)
    said: list[str] = []
    deploy._warn_template_changed(same, old, said.append)
    assert said == [], "the same template: nothing to say"
    deploy._warn_template_changed(new, old, said.append)
    assert "restart it with `javis serve --engine vllm`" in " ".join(said), said
