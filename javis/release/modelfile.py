"""Ollama's Modelfile for an exported version: our chat template as a Go `text/template`.

Ollama renders prompts with Go's text/template over `.System`, `.Messages` (each `.Role`,
`.Content`, `.ToolCalls` with `.Function.Name` and `.Function.Arguments`) and `.Tools`. `TEMPLATE`
below is javis/model/template.py's ChatML template translated statement by statement: the first
system message (else the persona's prompt), the tools block, each turn, tool calls as
`<tool_call>` JSON blocks, and `<|im_start|>assistant\\n` after a last turn that is not the
assistant's (what our Jinja's `add_generation_prompt` adds). Every piece of text is a quoted Go
string inside an action (`{{ "..." }}`), so no newline or brace in the persona can change the
template's structure. `tests/test_export_modelfile.py` renders it with Go's text/template and
compares it byte for byte with our Jinja rendering, tools included.

`json` is Ollama's template function for a value as JSON. Our template writes JSON the way Python
does (`", "` and `": "` separators, keys in their order, non-ASCII as is); Ollama's own `json`
writes Go's compact JSON, so with Ollama itself the tool schemas and call arguments differ from
training in whitespace (and map keys come sorted). The text of every other turn is the same bytes.
"""

from __future__ import annotations

import json

from javis.model import template


def go_string(text: str) -> str:
    """`text` as a Go interpreted string literal (JSON's escapes are a subset of Go's)."""
    return json.dumps(text, ensure_ascii=False)


def go_template(system_prompt: str) -> str:
    """Our chat template as a Go text/template, `system_prompt` the default system message."""
    s = go_string
    parts = [
        '{{- $first := "" }}{{- if .Messages }}{{- $first = (index .Messages 0).Role }}{{- end }}',
        "{{- " + s("<|im_start|>system\n") + " }}",
        '{{- if eq $first "system" }}{{- (index .Messages 0).Content }}',
        "{{- else }}{{- " + s(system_prompt) + " }}{{- end }}",
        "{{- if .Tools }}{{- " + s(template.TOOLS_INTRO) + " }}",
        '{{- range .Tools }}{{- "\\n" }}{{- json . }}{{- end }}',
        "{{- " + s(template.TOOLS_OUTRO) + " }}{{- end }}",
        "{{- " + s(template.IM_END + "\n") + " }}",
        '{{- $last := "" }}',
        "{{- range $i, $m := .Messages }}{{- $last = $m.Role }}",
        '{{- if and (eq $i 0) (eq $m.Role "system") }}',
        '{{- else if eq $m.Role "assistant" }}',
        "{{- " + s("<|im_start|>assistant\n") + " }}{{- $m.Content }}",
        "{{- range $j, $c := $m.ToolCalls }}",
        '{{- if or $m.Content $j }}{{- "\\n" }}{{- end }}',
        "{{- " + s('<tool_call>\n{"name": ') + " }}{{- json $c.Function.Name }}",
        "{{- " + s(', "arguments": ') + " }}{{- json $c.Function.Arguments }}",
        "{{- " + s("}\n</tool_call>") + " }}",
        "{{- end }}",
        "{{- " + s(template.IM_END + "\n") + " }}",
        "{{- else }}",
        "{{- " + s(template.IM_START) + " }}{{- $m.Role }}{{- " + s("\n") + " }}",
        "{{- $m.Content }}{{- " + s(template.IM_END + "\n") + " }}",
        "{{- end }}",
        "{{- end }}",
        '{{- if ne $last "assistant" }}{{- ' + s("<|im_start|>assistant\n") + " }}{{- end }}",
    ]
    return "\n".join(parts)


def modelfile(
    base_file: str, adapter_file: str, system_prompt: str, params: dict | None = None
) -> str:
    """The Modelfile text: FROM the base GGUF, ADAPTER ours, TEMPLATE, stop token, SYSTEM."""
    body = go_template(system_prompt)
    if '"""' in body or '"""' in system_prompt:
        raise ValueError('the template or persona holds """, which ends a Modelfile block')
    lines = [
        f"FROM ./{base_file}",
        f"ADAPTER ./{adapter_file}",
        f'TEMPLATE """{body}"""',
        f'PARAMETER stop "{template.IM_END}"',
        f'PARAMETER stop "{template.IM_START}"',
    ]
    for key, value in (params or {}).items():
        lines.append(f"PARAMETER {key} {value}")
    lines.append(f'SYSTEM """{system_prompt}"""')
    return "\n".join(lines) + "\n"
