"""Our ChatML chat template: one rendering of conversations for training, evaluation and serving.

Why our own (docs/DESIGN.md, "The chat template"): the bundled SmolLM2 template drops `tools` and
`tool_calls`, fails on `content: null`, injects "You are ... SmolLM" when there is no system
message and pads with `<|im_end|>`. This one renders

    <|im_start|>system
    {system prompt, or the persona's by default}[\\n\\n# Tools ... <tools>{schemas}</tools> ...]<|im_end|>
    <|im_start|>user
    {content}<|im_end|>
    <|im_start|>assistant
    {content}[\\n]<tool_call>
    {"name": "get_weather", "arguments": {"city": "Seoul"}}
    </tool_call><|im_end|>
    <|im_start|>tool
    {tool result}<|im_end|>

with `{% generation %}` around each assistant answer (its content, tool calls and closing
`<|im_end|>`), so `return_assistant_tokens_mask=True` (TRL's `assistant_only_loss`) trains on the
answers only, and the model learns to stop. The tool-call format is Qwen2.5's.

A Qwen2/Qwen2.5 base (`family(model_type)` = "qwen2") gets Qwen's own training format instead
(`_QWEN_TEMPLATE`, from TRL's qwen2_5_training.jinja): the same system, tools and assistant turns,
but tool results as `<|im_start|>user\\n<tool_response>\\n{result}\\n</tool_response><|im_end|>`,
consecutive results merged into one user turn, as Qwen was trained.

Use `apply(tokenizer, system_prompt)` once after loading a tokenizer; `tokenizer.save_pretrained`
then stores the template (`chat_template.jinja`) with the adapter, and candidate and baseline are
rendered the same way. `prepare_messages` makes records Arrow-safe and canonical (tool-call
arguments as canonical JSON text), `split_tool_calls` reads a generated answer back exactly as it
was rendered (javis/model/evaluation.py's `parse_tool_calls` judges generations more leniently).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
MARKER = (
    "javis-chatml-v1"  # first line of the template: how a saved tokenizer is recognised as ours
)
QWEN_MARKER = "javis-qwen2-v1"  # the same for our Qwen2/Qwen2.5 training template
# Bases (config.json `model_type`) trained on Qwen2's own format (QWEN_TEMPLATE); others use ours.
QWEN_TYPES = ("qwen2", "qwen2_moe")
PAD_CANDIDATES = ("<|endoftext|>", "<|pad|>", "<pad>", "<|finetune_right_pad_id|>")

TOOLS_INTRO = (
    "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
TOOLS_OUTRO = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)

# Byte for byte as released (its first line still names javis/template.py, the module's old path):
# adapters record the template's sha256, and an edit here would make every release look retemplated.
_TEMPLATE = """\
{#- MARKER: javis ChatML template (javis/template.py). -#}
{%- set default_system = DEFAULT_SYSTEM -%}
{%- macro text(content) -%}
{%- if content is string -%}{{ content }}
{%- elif content is iterable and content is not mapping -%}
{%- for part in content -%}{%- if part is mapping and part.text is defined and part.text -%}{{ part.text }}{%- elif part is string -%}{{ part }}{%- endif -%}{%- endfor -%}
{%- endif -%}
{%- endmacro -%}
{%- if messages and messages[0].role == 'system' -%}
{%- set system = text(messages[0].content) -%}
{%- set rest = messages[1:] -%}
{%- else -%}
{%- set system = default_system -%}
{%- set rest = messages -%}
{%- endif -%}
{{- '<|im_start|>system\\n' + system -}}
{%- if tools -%}
{{- TOOLS_INTRO -}}
{%- for tool in tools -%}
{{- '\\n' -}}{%- if tool is string -%}{{ tool }}{%- else -%}{{ tool | tojson }}{%- endif -%}
{%- endfor -%}
{{- TOOLS_OUTRO -}}
{%- endif -%}
{{- '<|im_end|>\\n' -}}
{%- for message in rest -%}
{%- if message.role == 'assistant' -%}
{{- '<|im_start|>assistant\\n' -}}
{%- generation -%}
{%- set body = text(message.content) -%}
{{- body -}}
{%- if message.tool_calls -%}
{%- for call in message.tool_calls -%}
{%- if call.function is defined and call.function -%}{%- set call = call.function -%}{%- endif -%}
{%- if body or not loop.first -%}{{- '\\n' -}}{%- endif -%}
{{- '<tool_call>\\n{"name": ' + (call.name | tojson) + ', "arguments": ' -}}
{%- if call.arguments is string -%}{{- call.arguments -}}
{%- elif call.arguments is mapping -%}{{- call.arguments | tojson -}}
{%- else -%}{{- '{}' -}}{%- endif -%}
{{- '}\\n</tool_call>' -}}
{%- endfor -%}
{%- endif -%}
{{- '<|im_end|>' -}}
{%- endgeneration -%}
{{- '\\n' -}}
{%- elif message.role in ['user', 'system', 'tool'] -%}
{{- '<|im_start|>' + message.role + '\\n' + text(message.content) + '<|im_end|>\\n' -}}
{%- else -%}
{{- raise_exception('message role must be system, user, assistant or tool, got ' + (message.role | string)) -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|im_start|>assistant\\n' -}}
{%- endif -%}
"""


# Qwen2.5's format: TRL's qwen2_5_training.jinja (Qwen's own template with `{% generation %}`),
# with our persona as the default system message (Qwen's says "You are Qwen, created by Alibaba
# Cloud"), content null/parts taken as text like ours, arguments given as JSON text written as is
# (Qwen's `tojson` would quote them again), and the answer's trailing newline outside the
# generation markers (the loss covers the answer and its `<|im_end|>`, as ours). Tool results go in
# a user turn as `<tool_response>` blocks, consecutive results merged into one turn.
_QWEN_TEMPLATE = """\
{#- MARKER: Qwen2.5 training template with the javis persona (javis/model/template.py). -#}
{%- set default_system = DEFAULT_SYSTEM -%}
{%- macro text(content) -%}
{%- if content is string -%}{{ content }}
{%- elif content is iterable and content is not mapping -%}
{%- for part in content -%}{%- if part is mapping and part.text is defined and part.text -%}{{ part.text }}{%- elif part is string -%}{{ part }}{%- endif -%}{%- endfor -%}
{%- endif -%}
{%- endmacro -%}
{%- if messages and messages[0].role == 'system' -%}
{%- set system = text(messages[0].content) -%}
{%- set rest = messages[1:] -%}
{%- else -%}
{%- set system = default_system -%}
{%- set rest = messages -%}
{%- endif -%}
{{- '<|im_start|>system\\n' + system -}}
{%- if tools -%}
{{- TOOLS_INTRO -}}
{%- for tool in tools -%}
{{- '\\n' -}}{%- if tool is string -%}{{ tool }}{%- else -%}{{ tool | tojson }}{%- endif -%}
{%- endfor -%}
{{- TOOLS_OUTRO -}}
{%- endif -%}
{{- '<|im_end|>\\n' -}}
{%- for message in rest -%}
{%- if message.role == 'assistant' -%}
{{- '<|im_start|>assistant\\n' -}}
{%- generation -%}
{%- set body = text(message.content) -%}
{{- body -}}
{%- if message.tool_calls -%}
{%- for call in message.tool_calls -%}
{%- if call.function is defined and call.function -%}{%- set call = call.function -%}{%- endif -%}
{%- if body or not loop.first -%}{{- '\\n' -}}{%- endif -%}
{{- '<tool_call>\\n{"name": ' + (call.name | tojson) + ', "arguments": ' -}}
{%- if call.arguments is string -%}{{- call.arguments -}}
{%- elif call.arguments is mapping -%}{{- call.arguments | tojson -}}
{%- else -%}{{- '{}' -}}{%- endif -%}
{{- '}\\n</tool_call>' -}}
{%- endfor -%}
{%- endif -%}
{{- '<|im_end|>' -}}
{%- endgeneration -%}
{{- '\\n' -}}
{%- elif message.role == 'tool' -%}
{%- if loop.first or rest[loop.index0 - 1].role != 'tool' -%}{{- '<|im_start|>user' -}}{%- endif -%}
{{- '\\n<tool_response>\\n' + text(message.content) + '\\n</tool_response>' -}}
{%- if loop.last or rest[loop.index0 + 1].role != 'tool' -%}{{- '<|im_end|>\\n' -}}{%- endif -%}
{%- elif message.role in ['user', 'system'] -%}
{{- '<|im_start|>' + message.role + '\\n' + text(message.content) + '<|im_end|>\\n' -}}
{%- else -%}
{{- raise_exception('message role must be system, user, assistant or tool, got ' + (message.role | string)) -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|im_start|>assistant\\n' -}}
{%- endif -%}
"""


class TemplateError(ValueError):
    """The tokenizer cannot take our template (e.g. no ChatML tokens in its vocabulary)."""


def family(model_type: str | None) -> str:
    """The template a base is trained with, from its config.json `model_type`: "qwen2" for
    Qwen2/Qwen2.5 (their own format: tool results as `<tool_response>` in a user turn), else
    "chatml" (ours)."""
    return "qwen2" if model_type in QWEN_TYPES else "chatml"


def render_source(system_prompt: str, kind: str = "chatml") -> str:
    """The Jinja source of the `kind` template ("chatml": ours; "qwen2": Qwen2.5's) with
    `system_prompt` as the default system message."""
    if kind not in ("chatml", "qwen2"):
        raise ValueError(f"template kind: expected chatml or qwen2, got {kind!r}")
    source, marker = (_QWEN_TEMPLATE, QWEN_MARKER) if kind == "qwen2" else (_TEMPLATE, MARKER)
    return (
        source.replace("MARKER", marker, 1)
        .replace("DEFAULT_SYSTEM", _jinja_literal(system_prompt), 1)
        .replace("TOOLS_INTRO", _jinja_literal(TOOLS_INTRO), 1)
        .replace("TOOLS_OUTRO", _jinja_literal(TOOLS_OUTRO), 1)
    )


def apply(tokenizer: Any, system_prompt: str, kind: str = "chatml") -> Any:
    """Install the `kind` template (`family(model_type)`) on `tokenizer` (in place, also returned).

    Sets eos to `<|im_end|>` (generation stops at the end of the assistant turn) and a pad token that
    is neither `<|im_end|>` nor eos (`<|endoftext|>` where it exists): padding is masked by the
    attention mask and -100 labels, never by comparing ids, so an answer's `<|im_end|>` is trained.
    """
    vocab = tokenizer.get_vocab()
    missing = [t for t in (IM_START, IM_END) if t not in vocab]
    if missing:
        raise TemplateError(
            f"the base tokenizer has no {missing} token(s): our ChatML template needs <|im_start|> and "
            "<|im_end|>; use a ChatML base (SmolLM2, Qwen2.5) in params base.source"
        )
    tokenizer.chat_template = render_source(system_prompt, kind)
    tokenizer.eos_token = IM_END
    tokenizer.pad_token = _pick_pad(tokenizer, vocab)
    return tokenizer


def is_ours(tokenizer: Any) -> bool:
    """Whether `tokenizer` carries one of our templates (ChatML or Qwen2's; any persona)."""
    source = getattr(tokenizer, "chat_template", None)
    if not isinstance(source, str):
        return False
    first = source.split("\n", 1)[0]
    return MARKER in first or QWEN_MARKER in first


def template_hash(tokenizer_or_source: Any) -> str:
    """sha256 of the template source: equal hashes render identically (persona included)."""
    source = tokenizer_or_source
    if not isinstance(source, str):
        source = getattr(tokenizer_or_source, "chat_template", None) or ""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def prepare_messages(messages: list[dict]) -> list[dict]:
    """Copy of `messages` in the canonical form the template and Arrow datasets both take.

    Tool-call arguments become canonical JSON text (parsed when they are JSON, re-dumped the way
    the template's `tojson` writes a mapping; any other text becomes a JSON string), so a dict and
    its JSON string render the same, and rows with different argument keys fit one Arrow column.
    Content null/missing becomes "".
    """
    out = []
    for message in messages:
        m = {"role": message.get("role"), "content": _content_text(message.get("content"))}
        calls = message.get("tool_calls")
        if calls:
            m["tool_calls"] = [_canonical_call(c) for c in calls]
        out.append(m)
    return out


def canonical_arguments(arguments: Any) -> str:
    """Arguments as canonical JSON text: `'{"city":"Seoul"}'` -> `'{"city": "Seoul"}'`."""
    if arguments is None:
        return "{}"
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return json.dumps(arguments, ensure_ascii=False)
    return json.dumps(arguments, ensure_ascii=False)


def tools_json(tools: list | None) -> str | None:
    """Tool schemas as one JSON string (TRL's SFTTrainer parses a string `tools` column; Arrow
    would otherwise merge different schemas' keys into every row)."""
    return json.dumps(tools, ensure_ascii=False) if tools else None


_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


def split_tool_calls(text: str) -> tuple[str, list[dict]]:
    """Split an answer into its text and its tool calls: the inverse of rendering.

    Returns `(content, calls)` with calls as `{"name", "arguments": dict|str}`; only closed
    `<tool_call>` blocks count, and one that is not valid JSON comes back as
    `{"name": None, "arguments": <raw text>}`. (evaluation.parse_tool_calls, which judges
    generations, also reads a block cut off by the token limit and OpenAI's nested `function`.)
    """
    calls: list[dict] = []
    for block in _CALL.findall(text):
        try:
            obj = json.loads(block)
        except json.JSONDecodeError:
            calls.append({"name": None, "arguments": block})
            continue
        if not isinstance(obj, dict):
            calls.append({"name": None, "arguments": block})
            continue
        calls.append({"name": obj.get("name"), "arguments": obj.get("arguments", {})})
    content = _CALL.sub("", text).strip()
    return content, calls


def _canonical_call(call: Any) -> dict:
    fn = call.get("function", call) if isinstance(call, dict) else {}
    if not isinstance(fn, dict):
        fn = {}
    out = {
        "type": "function",
        "function": {
            "name": str(fn.get("name") or ""),
            "arguments": canonical_arguments(fn.get("arguments")),
        },
    }
    if isinstance(call, dict) and call.get("id"):
        out["id"] = str(call["id"])
    return out


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p if isinstance(p, str) else str(p.get("text") or "")
            for p in content
            if isinstance(p, str | dict)
        )
    return str(content)


def _jinja_literal(text: str) -> str:
    # Jinja decodes string literals with backslash escapes; JSON's escapes (\" \\ \n \t) are a
    # subset, and non-ASCII is left as is (ensure_ascii=False keeps emoji out of surrogate pairs).
    return json.dumps(text, ensure_ascii=False)


def _pick_pad(tokenizer: Any, vocab: dict[str, int]) -> str:
    taken = {IM_START, IM_END, tokenizer.eos_token}
    current = tokenizer.pad_token
    if current and current not in taken:
        return current
    for candidate in (*PAD_CANDIDATES, tokenizer.unk_token):
        if candidate and candidate in vocab and candidate not in taken:
            return candidate
    raise TemplateError(
        "the base tokenizer has no special token to pad with other than <|im_end|>/eos "
        f"(tried {list(PAD_CANDIDATES)} and unk); add one to the base tokenizer"
    )
