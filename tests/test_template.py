"""Our ChatML template: tool calls, tool turns, default persona, assistant-only masks."""

from __future__ import annotations

import json

import pytest

from javis.model import template

PERSONA = 'You are JAVIS "자비스" 🤖.\nBe brief; {{ not jinja }} \\ stays.'
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather now",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
CONV = [
    {"role": "user", "content": "서울 날씨 어때?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Seoul"}'},
            }
        ],
    },
    {"role": "tool", "content": '{"temp_c": 3}'},
    {"role": "assistant", "content": "서울은 지금 3도예요."},
]


@pytest.fixture()
def tok(tiny_tokenizer):
    import copy

    t = copy.deepcopy(tiny_tokenizer)
    return template.apply(t, PERSONA)


def render(tok, messages, **kw):
    return tok.apply_chat_template(messages, tokenize=False, **kw)


def test_renders_tool_calls_tools_and_tool_turns(tok):
    text = render(tok, template.prepare_messages(CONV), tools=TOOLS)
    assert text.startswith("<|im_start|>system\n" + PERSONA + "\n\n# Tools\n")
    assert json.dumps(TOOLS[0], ensure_ascii=False) in text
    assert (
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Seoul"}}\n'
        '</tool_call><|im_end|>\n<|im_start|>tool\n{"temp_c": 3}<|im_end|>\n'
    ) in text
    assert text.endswith("<|im_start|>assistant\n서울은 지금 3도예요.<|im_end|>\n")
    assert "SmolLM" not in text


def test_dict_and_string_arguments_render_the_same(tok):
    as_dict = [
        dict(
            CONV[1],
            tool_calls=[{"function": {"name": "get_weather", "arguments": {"city": "Seoul"}}}],
        )
    ]
    as_text = [CONV[1]]
    assert render(tok, template.prepare_messages(as_dict)) == render(
        tok, template.prepare_messages(as_text)
    )
    assert render(tok, as_dict) == render(tok, template.prepare_messages(as_text))


def test_content_and_tool_call_together_and_bad_arguments(tok):
    msg = {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {"function": {"name": "a", "arguments": "not json"}},
            {"function": {"name": "b"}},
        ],
    }
    text = render(tok, template.prepare_messages([msg]))
    assert (
        'Checking.\n<tool_call>\n{"name": "a", "arguments": "not json"}\n</tool_call>\n'
        '<tool_call>\n{"name": "b", "arguments": {}}\n</tool_call><|im_end|>'
    ) in text
    content, calls = template.split_tool_calls(text.split("<|im_start|>assistant\n")[1])
    assert calls == [{"name": "a", "arguments": "not json"}, {"name": "b", "arguments": {}}]
    assert content.startswith("Checking.")


def test_default_system_prompt_given_system_and_generation_prompt(tok):
    assert render(tok, [{"role": "user", "content": "hi"}]).startswith(
        f"<|im_start|>system\n{PERSONA}<|im_end|>\n"
    )
    mine = render(tok, [{"role": "system", "content": "Custom."}, {"role": "user"}])
    assert mine == "<|im_start|>system\nCustom.<|im_end|>\n<|im_start|>user\n<|im_end|>\n"
    prompt = render(tok, template.prepare_messages(CONV[:3]), add_generation_prompt=True)
    full = render(tok, template.prepare_messages(CONV))
    assert prompt.endswith("<|im_start|>assistant\n")
    assert full.startswith(prompt)  # DPO/KTO prompt + completion share the prompt's tokens


def test_unknown_role_is_an_error(tok):
    with pytest.raises(Exception, match="role must be system, user, assistant or tool"):
        render(tok, [{"role": "bot", "content": "x"}])


def test_masks_everything_but_assistant_tokens(tok):
    out = tok.apply_chat_template(
        template.prepare_messages(CONV),
        tools=TOOLS,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    ids, mask = out["input_ids"], out["assistant_masks"]
    trained = tok.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert trained == (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Seoul"}}\n</tool_call><|im_end|>'
        "서울은 지금 3도예요.<|im_end|>"
    )
    ignored = tok.decode([i for i, m in zip(ids, mask, strict=True) if not m])
    assert "서울 날씨 어때?" in ignored, "the user turn is not trained"
    assert "temp_c" in ignored, "nor the tool result"
    assert "<|im_start|>assistant\n" in ignored, "nor the assistant header"


def test_trl_sees_generation_markers_and_a_trained_stop_token(tok):
    from trl.chat_template_utils import has_generation_markers, is_chat_template_stop_token_trained

    assert has_generation_markers(tok.chat_template)
    assert is_chat_template_stop_token_trained(tok)


def test_pad_is_not_eos_and_template_is_recognised(tok, tiny_tokenizer):
    assert tok.eos_token == "<|im_end|>"
    assert tok.pad_token not in ("<|im_end|>", "<|im_start|>")
    assert template.is_ours(tok), "our template is recognised"
    assert not template.is_ours(tiny_tokenizer), "another is not"
    assert template.template_hash(tok) == template.template_hash(template.render_source(PERSONA))


def test_tokenizer_without_chatml_tokens_is_refused():
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    t = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"a": 0, "<unk>": 1}, unk_token="<unk>"))
    )
    with pytest.raises(template.TemplateError, match="<|im_start|>"):
        template.apply(t, "x")


def test_template_survives_save_and_load(tok, tmp_path):
    from transformers import AutoTokenizer

    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again.chat_template == tok.chat_template
    assert render(again, CONV[:1]) == render(tok, CONV[:1])
