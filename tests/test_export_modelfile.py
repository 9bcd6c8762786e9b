"""Ollama's Modelfile: its TEMPLATE, rendered by Go's text/template, equals our Jinja rendering.

Ollama itself is not installable here (PyPI's `ollama` is only a client), so a few lines of Go
(below) render the TEMPLATE the way Ollama feeds it: `.System`, `.Messages` with `.Role`,
`.Content`, `.ToolCalls[].Function.{Name,Arguments}`, `.Tools`, and a `json` function. The
conversations are the template tests' (tests/test_template.py), tools included. The harness's
`json` writes Python's JSON layout (Ollama's own writes Go's compact JSON: the README says so).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from test_template import CONV, PERSONA, TOOLS

from javis.model import template
from javis.release import modelfile

HARNESS = r"""
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
)

type Function struct {
	Name      string
	Arguments json.RawMessage
}
type ToolCall struct{ Function Function }
type Message struct {
	Role      string
	Content   string
	ToolCalls []ToolCall
}
type Values struct {
	System   string
	Messages []Message
	Tools    []json.RawMessage
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func write(dec *json.Decoder, out *strings.Builder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		open, sep := string(t), ""
		out.WriteString(open)
		for dec.More() {
			out.WriteString(sep)
			sep = ", "
			if open == "{" {
				key, err := dec.Token()
				if err != nil {
					return err
				}
				out.WriteString(quote(key.(string)) + ": ")
			}
			if err := write(dec, out); err != nil {
				return err
			}
		}
		end, _ := dec.Token()
		out.WriteString(string(end.(json.Delim)))
	case string:
		out.WriteString(quote(t))
	case json.Number:
		out.WriteString(t.String())
	case bool:
		out.WriteString(fmt.Sprint(t))
	case nil:
		out.WriteString("null")
	}
	return nil
}

// pyJSON: Python's json.dumps(ensure_ascii=False) layout, keys in their order.
func pyJSON(v any) (string, error) {
	raw, ok := v.(json.RawMessage)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		raw = b
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out strings.Builder
	err := write(dec, &out)
	return out.String(), err
}

func main() {
	text, _ := os.ReadFile(os.Args[1])
	data, _ := os.ReadFile(os.Args[2])
	var cases []Values
	if err := json.Unmarshal(data, &cases); err != nil {
		panic(err)
	}
	tmpl := template.Must(template.New("t").Funcs(template.FuncMap{"json": pyJSON}).Parse(string(text)))
	var outs []string
	for _, c := range cases {
		var b strings.Builder
		if err := tmpl.Execute(&b, c); err != nil {
			panic(err)
		}
		outs = append(outs, b.String())
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.Encode(outs)
}
"""

CASES = [
    ("tool call, tool turn, answer; tools", CONV, TOOLS),
    ("up to the tool turn (generation prompt); tools", CONV[:3], TOOLS),
    ("one user turn", [{"role": "user", "content": "hi"}], None),
    ("one user turn; tools", [{"role": "user", "content": "서울 날씨?"}], TOOLS),
    (
        "own system prompt, empty user turn",
        [{"role": "system", "content": "Custom."}, {"role": "user", "content": None}],
        None,
    ),
    (
        "content and two tool calls, one with bad arguments",
        [
            {"role": "user", "content": "Check both."},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {"function": {"name": "a", "arguments": "not json"}},
                    {"function": {"name": "b"}},
                ],
            },
        ],
        TOOLS,
    ),
    (
        "Korean turns with a later system message",
        [
            {"role": "system", "content": '짧게 대답해.\n\tTabs and "quotes" \\ stay.'},
            {"role": "user", "content": "안녕? {{ .System }} 🤖"},
            {"role": "assistant", "content": "안녕하세요!"},
            {"role": "system", "content": "Now English."},
            {"role": "user", "content": "Hello."},
        ],
        None,
    ),
]


def ollama_values(messages: list[dict], tools: list | None, system: str, adds_system: bool):
    """What Ollama gives the template: SYSTEM prepended as a system message when the request has
    none (Ollama's behaviour with a Modelfile SYSTEM), tool-call arguments as JSON values."""
    msgs = [
        {
            "Role": m["role"],
            "Content": m["content"],
            "ToolCalls": [
                {
                    "Function": {
                        "Name": c["function"]["name"],
                        "Arguments": json.loads(c["function"]["arguments"]),
                    }
                }
                for c in m.get("tool_calls") or []
            ],
        }
        for m in template.prepare_messages(messages)
    ]
    if adds_system and not (msgs and msgs[0]["Role"] == "system"):
        msgs = [{"Role": "system", "Content": system, "ToolCalls": []}, *msgs]
    return {"System": system, "Messages": msgs, "Tools": tools or []}


@pytest.fixture()
def tok(tiny_tokenizer):
    import copy

    return template.apply(copy.deepcopy(tiny_tokenizer), PERSONA)


def jinja(tok, messages: list[dict], tools: list | None) -> str:
    last = messages[-1]["role"] if messages else None
    return tok.apply_chat_template(
        template.prepare_messages(messages),
        tools=tools,
        add_generation_prompt=last != "assistant",
        tokenize=False,
    )


@pytest.mark.skipif(
    shutil.which("go") is None,
    reason="rendering the TEMPLATE needs Go's text/template: `apt-get install golang-go` "
    "(.ci/run installs it)",
)
@pytest.mark.parametrize("adds_system", [True, False], ids=["SYSTEM set", "no SYSTEM"])
def test_go_rendering_equals_jinja_byte_for_byte(tok, tmp_path, adds_system):
    (tmp_path / "main.go").write_text(HARNESS, encoding="utf-8")
    (tmp_path / "template.txt").write_text(modelfile.go_template(PERSONA), encoding="utf-8")
    cases = [ollama_values(m, t, PERSONA, adds_system) for _, m, t in CASES]
    (tmp_path / "cases.json").write_text(json.dumps(cases, ensure_ascii=False), encoding="utf-8")
    run = subprocess.run(
        ["go", "run", "main.go", "template.txt", "cases.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "GO111MODULE": "off"},
    )
    assert run.returncode == 0, f"go run failed:\n{run.stderr[-3000:]}"
    rendered = json.loads(run.stdout)
    for (name, messages, tools), go_text in zip(CASES, rendered, strict=True):
        want = jinja(tok, messages, tools)
        assert go_text == want, f"{name}: Go\n{go_text!r}\n!= Jinja\n{want!r}"


def test_modelfile_names_both_files_the_stop_token_and_the_persona():
    text = modelfile.modelfile("base.gguf", "adapter.gguf", PERSONA)
    lines = text.splitlines()
    assert lines[0] == "FROM ./base.gguf", f"first line: {lines[0]!r}"
    assert lines[1] == "ADAPTER ./adapter.gguf", f"second line: {lines[1]!r}"
    assert 'PARAMETER stop "<|im_end|>"' in lines, f"no stop parameter in {text!r}"
    assert text.endswith(f'SYSTEM """{PERSONA}"""\n'), f"SYSTEM block: {text[-200:]!r}"


def test_a_persona_that_would_end_the_block_is_refused():
    with pytest.raises(ValueError, match='"""'):
        modelfile.modelfile("b.gguf", "a.gguf", 'Say """ twice')
