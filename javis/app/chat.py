"""`javis chat`: talk to the deployed version in the terminal and rate its answers.

The deployed version is the adapter `models/current` points to (`javis deploy` switches it); with
none deployed, the base model in `paths.base` with the persona's system prompt ("base"). Answers
stream token by token through the same generation path as `javis serve` (javis/app/engine.py:
transformers' TextIteratorStreamer around `model.generate`). After an answer:

    /good              👍 the answer
    /bad               👎 the answer
    /fix <better>      👎 with the answer it should have been (the conversation goes on with it)
    /score 1-5         a score (4-5 counts as good, 1-3 as bad)
    /new               start a new conversation      /help    this list      /quit (or Ctrl-D)

or just keep talking. Each rating appends one feedback line (javis/feedback.py) to
`paths.feedback`, with the version that answered, so it counts toward the next version's data
and this version's user satisfaction. One rating per answer.

`Bot` (javis/app/engine.py) wraps a model and tokenizer (tests pass the tiny model), `load_bot()`
loads the deployed one.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from javis.app import engine
from javis.app.engine import BASE_VERSION, Bot
from javis.core import params
from javis.data import feedback
from javis.release.deploy import CURRENT  # the symlink `javis deploy` switches

log = logging.getLogger("javis.chat")

__all__ = ["BASE_VERSION", "Bot", "deployed", "load_bot", "run_chat"]

HELP = """\
after an answer: /good, /bad, /fix <better answer>, /score 1-5 -- or just keep talking
/new starts a new conversation, /help shows this, /quit (or Ctrl-D) leaves"""


def load_bot(base: str | Path, system_prompt: str, *, current: Path = CURRENT, **kw: Any) -> Bot:
    """The deployed version (`current` -> an adapter folder) on `base`, or the base itself."""
    return engine.load_bot(base, system_prompt, current=current, **kw)


def deployed(current: Path = CURRENT) -> tuple[str, Path | None]:
    """(version name, adapter folder) that `current` points to, or ("base", None) when none is."""
    return engine.deployed(current)


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
