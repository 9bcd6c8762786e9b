"""The one generation path of `javis chat` and `javis serve`: a base in memory, adapters beside it.

`Bot` answers conversations with one version (a PEFT adapter, or the bare base: "base"), streaming
text pieces from transformers' TextIteratorStreamer around `model.generate` (javis/model/generation.py
is the evaluation's batch path; this one is the interactive one). Per request it takes `Sampling`
(temperature, top_p, max_tokens, stop strings, seed) and `tools`, and fills a `Usage` (prompt and
completion tokens, finish_reason stop/length) once the answer is done.

`Engine` keeps ONE base model in memory and loads each version's adapter into it side by side
(`PeftModel.load_adapter`, a unique adapter name per version, never a different adapter under an old
name); every generation selects its adapter under the engine's lock, so an answer being generated
finishes on the version it started with, and the next request gets whatever it asks for.
`Engine.deployed()` reads `models/current` on every call: `javis deploy` / `rollback` switch the
link and the next request is answered by the new version, without reloading the base.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from javis.model import template

log = logging.getLogger("javis.engine")

BASE_VERSION = "base"  # model_version of answers given by the bare base model


@dataclass
class Sampling:
    """Per-request generation settings (None: the bot's own defaults)."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None


@dataclass
class Usage:
    """Filled in by `Bot.stream` when the answer is done."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = (
        "stop"  # stop | length (the API turns it into tool_calls when it parses one)
    )


class StopStrings:
    """Cuts a streamed text at the first of `stops`, holding back any tail that may begin one."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.held = ""
        self.hit = False

    def feed(self, piece: str) -> str:
        if not self.stops:
            return piece
        text = self.held + piece
        cut = min((i for s in self.stops if (i := text.find(s)) >= 0), default=-1)
        if cut >= 0:
            self.hit, self.held = True, ""
            return text[:cut]
        keep = 0
        for s in self.stops:
            for n in range(min(len(s) - 1, len(text)), 0, -1):
                if text.endswith(s[:n]):
                    keep = max(keep, n)
                    break
        self.held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        held, self.held = self.held, ""
        return held


@dataclass
class Bot:
    """A loaded model that answers conversations; `version` is what feedback lines record.
    `adapter` is the PEFT adapter name to select before generating (None: the model as it is,
    or the base with adapters disabled when `model` holds several)."""

    model: Any
    tokenizer: Any
    version: str
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0: greedy (the same question gets the same answer)
    max_prompt_tokens: int = 2048  # older turns are dropped to stay under this
    lock: Any = field(default_factory=threading.Lock, repr=False)
    adapter: str | None = None
    created: int = field(default_factory=lambda: int(time.time()))
    base: str = ""

    def prompt_ids(self, messages: list[dict], tools: list | None = None) -> list[int]:
        """Token ids of the rendered conversation plus the assistant header (oldest turns dropped)."""
        msgs = list(messages)
        while True:
            text = self.tokenizer.apply_chat_template(
                template.prepare_messages(msgs),
                tools=tools or None,
                add_generation_prompt=True,
                tokenize=False,
            )
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            first = 1 if msgs and msgs[0].get("role") == "system" else 0
            if len(ids) <= self.max_prompt_tokens or len(msgs) - first <= 1:
                return ids
            del msgs[first]

    def stream(
        self,
        messages: list[dict],
        stop: threading.Event | None = None,
        *,
        tools: list | None = None,
        sampling: Sampling | None = None,
        usage: Usage | None = None,
    ) -> Iterator[str]:
        """The answer to `messages`, as text pieces while they are generated. Generation ends at
        the next token once `stop` is set, or when the reader closes this iterator (a stop button,
        a closed page), or at one of `sampling.stop`'s strings (cut there)."""
        import torch
        from transformers import (
            GenerationConfig,
            StoppingCriteria,
            StoppingCriteriaList,
            TextIteratorStreamer,
        )

        s = sampling or Sampling()
        usage = usage if usage is not None else Usage()
        stop = stop or threading.Event()
        temperature = self.temperature if s.temperature is None else s.temperature
        max_new = s.max_tokens or self.max_new_tokens

        class Stopped(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), stop.is_set(), device=input_ids.device)

        ids = self.prompt_ids(messages, tools)
        usage.prompt_tokens = len(ids)
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        sample = temperature > 0
        eos = self.tokenizer.convert_tokens_to_ids(template.IM_END)
        config = GenerationConfig(
            max_new_tokens=max_new,
            do_sample=sample,
            temperature=temperature if sample else None,
            top_p=(s.top_p if s.top_p is not None else 0.9) if sample else None,
            eos_token_id=eos,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        dev = next(self.model.parameters()).device
        input_ids = torch.tensor([ids], device=dev)
        errors: list[BaseException] = []
        out: list[Any] = []

        def run() -> None:
            try:
                with torch.inference_mode(), self._selected():
                    if s.seed is not None:
                        torch.manual_seed(s.seed)
                    out.append(
                        self.model.generate(
                            input_ids=input_ids,
                            attention_mask=torch.ones_like(input_ids),
                            generation_config=config,
                            streamer=streamer,
                            stopping_criteria=StoppingCriteriaList([Stopped()]),
                        )
                    )
            except BaseException as e:  # surfaced in the caller's thread below
                errors.append(e)
                streamer.end()

        cutter = StopStrings(s.stop)
        with self.lock:  # one generation at a time per model (and per adapter switch)
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            try:
                for piece in streamer:
                    text = cutter.feed(piece)
                    if text or not cutter.hit:
                        yield text  # as the streamer gives it (empty pieces included)
                    if cutter.hit:
                        break
                if not cutter.hit and (rest := cutter.flush()):
                    yield rest
            finally:
                stop.set()  # a reader that went away stops the generation, and the lock waits for it
                worker.join()
        if errors:
            raise errors[0]
        if out:
            new = out[0][0, len(ids) :].tolist()
            usage.completion_tokens = len(new)
            ended = bool(new) and new[-1] == eos
            usage.finish_reason = (
                "length" if len(new) >= max_new and not ended and not cutter.hit else "stop"
            )

    def _selected(self) -> Any:
        """A context in which `model` answers as this version."""
        import contextlib

        if not hasattr(self.model, "peft_config"):
            return contextlib.nullcontext()
        if self.adapter is None:
            return self.model.disable_adapter()
        self.model.set_adapter(self.adapter)
        return contextlib.nullcontext()

    def reply(self, messages: list[dict], **kw: Any) -> str:
        """The whole answer to `messages` (stripped)."""
        return "".join(self.stream(messages, **kw)).strip()


def deployed(current: Path) -> tuple[str, Path | None]:
    """(version name, adapter folder) that `current` points to, or ("base", None) when none is."""
    if current.is_symlink() or current.is_dir():
        target = current.resolve()
        if (target / "adapter_config.json").is_file():
            return target.name, target
        if current.is_symlink():
            log.warning(
                "%s -> %s is not an adapter folder (weights missing?); using the base model",
                current,
                os.readlink(current),
            )
    return BASE_VERSION, None


def adapter_name(version: str) -> str:
    """The PEFT adapter name of a version (module dict keys take no dots): javis-v0.2 -> javis_v0_2."""
    return re.sub(r"\W", "_", version)


class Engine:
    """One base in memory; each version's adapter loaded beside it on first use (at most
    `max_adapters`, the least recently used unloaded first, never the deployed one)."""

    def __init__(
        self,
        base: str | Path,
        system_prompt: str,
        *,
        current: Path,
        adapters: Path,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        max_prompt_tokens: int = 2048,
        max_adapters: int = 4,
        precision: str | None = None,
    ) -> None:
        from javis.model import loading

        loading.hide_library_progress_bars()  # "Loading weights ..." bars: noise before the prompt
        self.base_path, self.current, self.adapters = Path(base), Path(current), Path(adapters)
        self.settings = {
            "max_new_tokens": max_new_tokens,
            "temperature": temperature,
            "max_prompt_tokens": max_prompt_tokens,
        }
        self.max_adapters = max_adapters
        self.lock = threading.Lock()  # held by each generation and by each adapter load/unload
        self.table = threading.Lock()  # guards `bots` (which versions are loaded)
        self.model = loading.load_base(base, precision=precision or loading.pick_precision()[0])
        self.model.eval()
        self.base_id = str(loading.read_info(base, loading.BASE_INFO).get("id") or self.base_path)
        self.bots: OrderedDict[str, Bot] = OrderedDict()
        self.bots[BASE_VERSION] = self._bot(
            BASE_VERSION, loading.load_tokenizer(base, system_prompt), None
        )

    def _bot(self, version: str, tokenizer: Any, adapter: str | None) -> Bot:
        return Bot(
            self.model,
            tokenizer,
            version,
            lock=self.lock,
            adapter=adapter,
            base=self.base_id,
            **self.settings,
        )

    def available(self) -> list[str]:
        """Versions whose adapter is in models/adapters/ (released and fetched), oldest name first."""
        if not self.adapters.is_dir():
            return []
        found = [p.name for p in self.adapters.iterdir() if (p / "adapter_config.json").is_file()]
        return sorted(found, key=_version_key)

    def deployed(self) -> str:
        """The version models/current points to now ("base" when none)."""
        return deployed(self.current)[0]

    def get(self, version: str | None = None) -> Bot:
        """The bot of `version` (None or "javis": the deployed one), its adapter loaded if needed.
        Raises KeyError when no such version is available here."""
        if version in (None, "javis"):
            version, folder = deployed(self.current)
        elif version == BASE_VERSION:
            folder = None
        else:
            folder = self.adapters / version
            if not (folder / "adapter_config.json").is_file():
                raise KeyError(version)
        with self.table:  # a loaded version: at once, even while another answer is generated
            bot = self.bots.get(version)
            if bot is not None:
                self.bots.move_to_end(version)
                return bot
        assert folder is not None
        with self.lock:  # loading waits for the answer being generated: it ends on its version
            with self.table:
                bot = self.bots.get(version)  # loaded meanwhile by another request
            return bot or self._load(version, folder)

    def _load(self, version: str, folder: Path) -> Bot:
        """Load `folder`'s adapter into the base as `version` (under the lock)."""
        from peft import PeftModel

        from javis.model import loading

        loading.check_adapter_base(folder, self.base_path, f"models/adapters/{version}")
        tokenizer = loading.load_tokenizer(folder)
        name = adapter_name(version)
        log.info("serve: loading adapter %s beside the base (no base reload)", version)
        if hasattr(self.model, "peft_config"):
            self.model.load_adapter(str(folder), adapter_name=name)
        else:
            self.model = PeftModel.from_pretrained(self.model, str(folder), adapter_name=name)
            self.model.eval()
            with self.table:
                for bot in self.bots.values():
                    bot.model = self.model
        bot = self._bot(version, tokenizer, name)
        with self.table:
            self.bots[version] = bot
            self._evict(keep=version)
        return bot

    def _evict(self, keep: str) -> None:
        """Unload least recently used adapters beyond max_adapters (under both locks)."""
        deployed_now = self.deployed()
        loaded = [v for v in self.bots if v != BASE_VERSION]
        while len(loaded) > self.max_adapters:
            old = next((v for v in loaded if v not in (keep, deployed_now)), None)
            if old is None:
                return
            loaded.remove(old)
            bot = self.bots.pop(old)
            log.info("serve: unloading adapter %s", old)
            self.model.delete_adapter(bot.adapter)

    def describe(self) -> list[dict]:
        """/v1/models' entries (javis/app/openai_api.py), `created` = the adapter folder's time."""
        from javis.app.openai_api import model_cards

        versions = self.available()
        created = {
            v: int((self.adapters / v / "adapter_config.json").stat().st_mtime) for v in versions
        }
        return model_cards(self.deployed(), versions, self.base_id, created)

    def loaded(self) -> list[str]:
        """Adapter names in the model now (for tests and logs)."""
        return sorted(getattr(self.model, "peft_config", {}) or {})


def _version_key(name: str) -> tuple:
    parts = re.findall(r"\d+", name)
    return (tuple(int(x) for x in parts), name)


def load_bot(
    base: str | Path,
    system_prompt: str,
    *,
    current: Path,
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    max_prompt_tokens: int = 2048,
) -> Bot:
    """The deployed version (`current` -> an adapter folder) on `base`, or the base itself."""
    from javis.model import loading as models

    models.hide_library_progress_bars()  # "Loading weights ..." bars: noise before the prompt
    version, adapter = deployed(current)
    precision = models.pick_precision()[0]
    if adapter is not None:
        mdl, tok = models.load_adapter(base, adapter, precision=precision, param=str(current))
    else:
        tok = models.load_tokenizer(base, system_prompt)
        mdl = models.load_base(base, precision=precision)
        mdl.eval()
    return Bot(
        mdl,
        tok,
        version,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        max_prompt_tokens=max_prompt_tokens,
        adapter="default" if adapter is not None else None,  # PeftModel's name for its one adapter
    )
