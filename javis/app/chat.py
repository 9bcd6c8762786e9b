"""`javis chat`: talk to the deployed version in the terminal and rate its answers.

The deployed version is the adapter `models/current` points to (`javis deploy` switches it); with
none deployed, the base model in `paths.base` with the persona's system prompt ("base"). Answers
stream token by token (transformers' TextIteratorStreamer). After an answer:

    /good              👍 the answer
    /bad               👎 the answer
    /fix <better>      👎 with the answer it should have been (the conversation goes on with it)
    /score 1-5         a score (4-5 counts as good, 1-3 as bad)
    /new               start a new conversation      /help    this list      /quit (or Ctrl-D)

or just keep talking. Each rating appends one feedback line (javis/feedback.py) to
`paths.feedback`, with the version that answered, so it counts toward the next version's data
and this version's user satisfaction. One rating per answer.

`Bot` wraps a model and tokenizer (tests pass the tiny model), `load_bot()` loads the deployed one.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from javis.core import params
from javis.data import feedback
from javis.model import template
from javis.release.deploy import CURRENT  # the symlink `javis deploy` switches

log = logging.getLogger("javis.chat")

BASE_VERSION = "base"  # model_version of answers given by the bare base model

HELP = """\
after an answer: /good, /bad, /fix <better answer>, /score 1-5 -- or just keep talking
/new starts a new conversation, /help shows this, /quit (or Ctrl-D) leaves"""


@dataclass
class Bot:
    """A loaded model that answers conversations; `version` is what feedback lines record."""

    model: Any
    tokenizer: Any
    version: str
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0: greedy (the same question gets the same answer)
    max_prompt_tokens: int = 2048  # older turns are dropped to stay under this
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def prompt_ids(self, messages: list[dict]) -> list[int]:
        """Token ids of the rendered conversation plus the assistant header (oldest turns dropped)."""
        msgs = list(messages)
        while True:
            text = self.tokenizer.apply_chat_template(
                template.prepare_messages(msgs), add_generation_prompt=True, tokenize=False
            )
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            first = 1 if msgs and msgs[0].get("role") == "system" else 0
            if len(ids) <= self.max_prompt_tokens or len(msgs) - first <= 1:
                return ids
            del msgs[first]

    def stream(self, messages: list[dict], stop: threading.Event | None = None) -> Iterator[str]:
        """The answer to `messages`, as text pieces while they are generated. Generation ends at
        the next token once `stop` is set, or when the reader closes this iterator (a stop button,
        a closed page)."""
        import torch
        from transformers import (
            GenerationConfig,
            StoppingCriteria,
            StoppingCriteriaList,
            TextIteratorStreamer,
        )

        stop = stop or threading.Event()

        class Stopped(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), stop.is_set(), device=input_ids.device)

        ids = self.prompt_ids(messages)
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        config = GenerationConfig(
            max_new_tokens=self.max_new_tokens,
            do_sample=self.temperature > 0,
            temperature=self.temperature if self.temperature > 0 else None,
            top_p=0.9 if self.temperature > 0 else None,
            eos_token_id=self.tokenizer.convert_tokens_to_ids(template.IM_END),
            pad_token_id=self.tokenizer.pad_token_id,
        )
        dev = next(self.model.parameters()).device
        input_ids = torch.tensor([ids], device=dev)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(
                        input_ids=input_ids,
                        attention_mask=torch.ones_like(input_ids),
                        generation_config=config,
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([Stopped()]),
                    )
            except BaseException as e:  # surfaced in the caller's thread below
                errors.append(e)
                streamer.end()

        with self.lock:  # one generation at a time per model
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            try:
                yield from streamer
            finally:
                stop.set()  # a reader that went away stops the generation, and the lock waits for it
                worker.join()
        if errors:
            raise errors[0]

    def reply(self, messages: list[dict]) -> str:
        """The whole answer to `messages` (stripped)."""
        return "".join(self.stream(messages)).strip()


def deployed(current: Path = CURRENT) -> tuple[str, Path | None]:
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


def load_bot(
    base: str | Path,
    system_prompt: str,
    *,
    current: Path = CURRENT,
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
    )


@dataclass
class Session:
    """One terminal conversation: the messages so far and the answer that may be rated."""

    bot: Bot
    folder: Path
    messages: list[dict] = field(default_factory=list)
    last: tuple[list[dict], str] | None = None  # (conversation before the answer, the answer)
    rated: bool = False
    written: list[dict] = field(default_factory=list)

    def rate(
        self, rating: str | None, *, score: int | None = None, correction: str | None = None
    ) -> str:
        """Append one feedback line for the last answer; returns what to tell the user."""
        if self.last is None:
            return "nothing to rate yet: ask something first"
        if self.rated:
            return "this answer is already rated; rate the next one"
        prompt, answer = self.last
        line: dict[str, Any] = {
            "model_version": self.bot.version,
            "messages": prompt,
            "response": answer,
        }
        if rating is not None:
            line["rating"] = rating
        if score is not None:
            line["score"] = score
        if correction is not None:
            line["correction"] = correction
        written = feedback.append_feedback(self.folder, line)
        self.written.append(written)
        self.rated = True
        if correction is not None:  # go on from the answer it should have been
            self.messages[-1] = {"role": "assistant", "content": correction}
            return "saved: 👎 with your correction (the conversation continues from it)"
        return f"saved: {'👍' if written['rating'] == 'good' else '👎'}" + (
            f" ({score}/5)" if score else ""
        )


def run_chat(
    bot: Bot,
    folder: str | Path,
    *,
    read: Callable[[str], str] = input,
    write: Callable[[str], Any] | None = None,
) -> Session:
    """The chat loop: read lines until /quit or end of input; returns the session (lines written)."""
    out = write or _stdout
    session = Session(bot, Path(folder))
    out(f"JAVIS chat with {bot.version}. {HELP}\n")
    while True:
        try:
            text = read("you> ")
        except (EOFError, KeyboardInterrupt):
            out("\n")
            break
        text = text.strip()
        if not text:
            continue
        word, _, rest = text.partition(" ")
        rest = rest.strip()
        if word in ("/quit", "/exit"):
            break
        if word == "/help":
            out(HELP + "\n")
        elif word == "/new":
            session.messages, session.last, session.rated = [], None, False
            out("(new conversation)\n")
        elif word in ("/good", "/bad"):
            out(session.rate(word[1:]) + "\n")
        elif word == "/fix":
            out(
                (
                    session.rate("bad", correction=rest)
                    if rest
                    else "usage: /fix <the better answer>"
                )
                + "\n"
            )
        elif word == "/score":
            if rest.isdigit() and 1 <= int(rest) <= 5:
                out(session.rate(None, score=int(rest)) + "\n")
            else:
                out("usage: /score 1-5\n")
        elif word.startswith("/") and not word.startswith("//"):
            out(
                f"unknown command {word}; {HELP}\n(to send a line starting with /, type // first)\n"
            )
        else:
            if text.startswith("//"):
                text = text[1:]  # `//etc is...` sends `/etc is...`
            session.messages.append({"role": "user", "content": text})
            out(f"{bot.version}> ")
            pieces = []
            stream = bot.stream(session.messages)
            try:
                for piece in stream:
                    pieces.append(piece)
                    out(piece)
            except KeyboardInterrupt:  # Ctrl-C stops this answer, not the chat
                stream.close()
                session.messages.pop()
                session.last = None
                out("\n(interrupted: the question is dropped)\n")
                continue
            answer = "".join(pieces).strip()
            out("\n")
            if not answer:
                out("(empty answer: nothing to rate)\n")
                session.last, session.rated = None, False
                continue
            session.last = (list(session.messages), answer)
            session.rated = False
            session.messages.append({"role": "assistant", "content": answer})
    n = len(session.written)
    out(f"{n} rating{'s' if n != 1 else ''} saved to {folder}/\n")
    return session


def _stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def bot_loader(p: params.Params, *, current: Path = CURRENT) -> Callable[[], Bot]:
    """A function loading the deployed version's bot with the `serve` section's answer settings
    (answer length, temperature, prompt budget): what `javis chat` and `javis serve` both answer with."""
    cfg = p.serve
    return functools.partial(
        load_bot,
        p.paths.base,
        p.persona.system_prompt,
        current=current,
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        max_prompt_tokens=cfg.max_prompt_tokens,
    )


def main(p: params.Params, *, current: Path = CURRENT) -> int:
    """`javis chat` with params `p` (the `serve` section sets answer length and temperature)."""
    run_chat(bot_loader(p, current=current)(), p.paths.feedback)
    return 0
