"""Serving engines for the GPU: vLLM (a server you run) and RunPod's serverless vLLM worker.

vLLM (deploy.target: vllm):
  `vllm_command` is the `vllm serve <base> --enable-lora --lora-modules javis-vX.Y=<adapter>
  --max-lora-rank <r> --chat-template <adapter>/chat_template.jinja --enable-auto-tool-choice
  --tool-call-parser hermes` command for a version (`javis serve --engine vllm` prints it, `--exec`
  runs it with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True). Without our template vLLM would render with
  the base's; the hermes parser reads our `<tool_call>` blocks (Qwen2.5's format).
  `vllm_switch` loads a new version into the running server through its runtime LoRA API
  (`POST /v1/load_lora_adapter {"lora_name", "lora_path"}`), checks `GET /v1/models` lists it,
  then unloads the old one (`POST /v1/unload_lora_adapter {"lora_name"}`). A refusal raises
  EngineError with vLLM's own message and leaves the old version loaded. Each version keeps its own
  name: reloading a different adapter under an old name serves the stale cache (vllm#42125).

RunPod (deploy.target: runpod):
  `runpod_env` is the worker-vllm env for a version (MODEL_NAME, ENABLE_LORA, MAX_LORA_RANK,
  LORA_MODULES with a path the worker reaches (a network volume under /runpod-volume, never a local
  path), CUSTOM_CHAT_TEMPLATE, ENABLE_AUTO_TOOL_CHOICE, TOOL_CALL_PARSER). `runpod_switch`, given an
  API key ($RUNPOD_API_KEY) and an endpoint id, creates a template with that env through RunPod's
  REST API (`POST /templates`), points the endpoint at it (`PATCH /endpoints/{id}`) and returns the
  old template id (kept in models/deployments.jsonl for rollback). Plain HTTP (urllib): no SDK.
"""

from __future__ import annotations

import json
import shlex
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from javis.release.errors import ReleaseError

TOOL_PARSER = "hermes"  # vLLM's parser for `<tool_call>{json}</tool_call>` (Qwen2.5 / our template)


class EngineError(ReleaseError):
    """The engine refused or could not be reached; the old version keeps serving."""


def vllm_command(
    base: str, version: str, adapter: Path, max_rank: int, *, port: int = 8000, api_key: str = ""
) -> list[str]:
    """The `vllm serve` argv that serves `version` (LoRA on `base`) with our template and tools."""
    adapter = Path(adapter).resolve()
    cmd = [
        "vllm",
        "serve",
        str(base),
        "--enable-lora",
        "--lora-modules",
        f"{version}={adapter}",
        "--max-lora-rank",
        str(max_rank),
        "--chat-template",
        str(adapter / "chat_template.jinja"),
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        TOOL_PARSER,
        "--port",
        str(port),
    ]
    if api_key:
        cmd += ["--api-key", api_key]
    return cmd


def shell(cmd: list[str]) -> str:
    """`cmd` as one line to paste, with the env var runtime LoRA loading needs."""
    return "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True " + shlex.join(cmd)


def _http(
    method: str, url: str, body: dict | None = None, *, key: str = "", timeout: float = 120
) -> tuple[int, Any]:
    """(status, parsed JSON or text) of one request; never raises on an HTTP error status."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        raise EngineError(f"{method} {url}: cannot reach the engine ({e})") from e
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return status, text


def _why(reply: Any) -> str:
    if isinstance(reply, dict):
        err = reply.get("error", reply)
        if isinstance(err, dict):
            return str(err.get("message") or err)
        return str(err)
    return str(reply)[:500]


def vllm_models(url: str, key: str = "") -> list[str]:
    status, reply = _http("GET", f"{url.rstrip('/')}/v1/models", key=key)
    if status != 200 or not isinstance(reply, dict):
        raise EngineError(f"vLLM at {url}: GET /v1/models answered {status}: {_why(reply)}")
    return [m.get("id") for m in reply.get("data") or []]


def vllm_switch(
    url: str, version: str, path: str | Path, old: str | None, *, key: str = "", log=print
) -> None:
    """Load `version` from `path` into the vLLM at `url`, check it is listed, unload `old`."""
    url = url.rstrip("/")
    loaded = vllm_models(url, key)
    if version not in loaded:
        status, reply = _http(
            "POST",
            f"{url}/v1/load_lora_adapter",
            {"lora_name": version, "lora_path": str(path)},
            key=key,
        )
        if status != 200:
            raise EngineError(
                f"vLLM at {url} refused to load {version} ({status}: {_why(reply)}); "
                f"{old or 'the old version'} keeps serving. Is it running with "
                "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True and --enable-lora?"
            )
    if version not in vllm_models(url, key):
        raise EngineError(
            f"vLLM at {url} accepted {version} but /v1/models does not list it; "
            f"{old or 'the old version'} keeps serving"
        )
    log(f"vllm: {version} loaded at {url}")
    if old and old != version and old in loaded:
        status, reply = _http("POST", f"{url}/v1/unload_lora_adapter", {"lora_name": old}, key=key)
        if status != 200:
            log(f"vllm: could not unload {old} ({status}: {_why(reply)}); it stays loaded")
        else:
            log(f"vllm: {old} unloaded")


def runpod_env(
    base_name: str, version: str, volume_path: str, max_rank: int, adapter: Path
) -> dict[str, str]:
    """The worker-vllm env serving `version` from the network volume at `volume_path`."""
    if not volume_path.startswith("/runpod-volume"):
        raise EngineError(
            f"deploy.runpod_volume_path {volume_path!r}: the worker reads adapters from the "
            "network volume (/runpod-volume/...); a path on this machine does not exist there"
        )
    template = (Path(adapter) / "chat_template.jinja").read_text(encoding="utf-8")
    modules = [
        {
            "name": version,
            "path": f"{volume_path.rstrip('/')}/{version}",
            "base_model_name": base_name,
        }
    ]
    return {
        "MODEL_NAME": base_name,
        "ENABLE_LORA": "true",
        "MAX_LORA_RANK": str(max_rank),
        "LORA_MODULES": json.dumps(modules),
        "CUSTOM_CHAT_TEMPLATE": template,
        "ENABLE_AUTO_TOOL_CHOICE": "true",
        "TOOL_CALL_PARSER": TOOL_PARSER,
    }


def runpod_switch(
    api: str,
    key: str,
    endpoint: str,
    version: str,
    env: dict[str, str],
    image: str,
    reuse: str | None = None,
) -> tuple[str | None, str]:
    """Point `endpoint` at a template serving `version`: `reuse` (the template an earlier deploy
    of it made: a rollback), else a new one with `env`. Returns (old template id, new one)."""
    api = api.rstrip("/")
    status, reply = _http("GET", f"{api}/endpoints/{endpoint}", key=key)
    if status != 200 or not isinstance(reply, dict):
        raise EngineError(f"RunPod: GET /endpoints/{endpoint} answered {status}: {_why(reply)}")
    old = reply.get("templateId")
    if reuse:
        return old, _point(api, key, endpoint, reuse, old)
    body = {
        "name": f"javis-{version}",
        "imageName": image,
        "env": env,
        "isServerless": True,
        "containerDiskInGb": 20,
    }
    status, made = _http("POST", f"{api}/templates", body, key=key)
    if status not in (200, 201) or not isinstance(made, dict) or not made.get("id"):
        raise EngineError(
            f"RunPod refused the new template ({status}: {_why(made)}); nothing switched"
        )
    return old, _point(api, key, endpoint, made["id"], old)


def _point(api: str, key: str, endpoint: str, template: str, old: str | None) -> str:
    status, reply = _http("PATCH", f"{api}/endpoints/{endpoint}", {"templateId": template}, key=key)
    if status != 200:
        raise EngineError(
            f"RunPod refused to switch endpoint {endpoint} to template {template} "
            f"({status}: {_why(reply)}); it still uses {old}"
        )
    return template
