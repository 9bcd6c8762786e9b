"""A Qwen2/Qwen2.5 base is trained on Qwen's own format (javis/model/template.py, `_QWEN_TEMPLATE`):
tool results as `<tool_response>` in a user turn, consecutive results merged, our persona as the
default system prompt, and a loss mask of exactly the assistant tokens and their `<|im_end|>`.
On a tiny Qwen2 model made here; other bases keep our ChatML template. The loss mask is checked
with Qwen2's real tokenizer too when its vocabulary is on disk: llama.cpp ships it as
`models/ggml-vocab-qwen2.gguf` in llama-cpp-python's sdist (the BPE vocabulary and merges Qwen2.5
uses, with `<|im_start|>`/`<|im_end|>`; Qwen2.5's later special tokens, `<tool_call>` among them,
are placeholders there, so tool-call tags are plain text to it). `.ci/run` takes it out of the
sdist it builds llama.cpp from into ~/.cache/javis/ (or $JAVIS_QWEN2_VOCAB)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import make_qwen2

from javis.model import loading, template

PERSONA = "You are JAVIS, Minjun's assistant. 저는 자비스예요."
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
CALL = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Seoul"}}}
CONV = [
    {"role": "user", "content": "서울이랑 부산 날씨 어때?"},
    {"role": "assistant", "content": "", "tool_calls": [CALL, CALL]},
    {"role": "tool", "content": '{"temp_c": 3}'},
    {"role": "tool", "content": '{"temp_c": 9}'},
    {"role": "assistant", "content": "Seoul 3°C, Busan 9°C."},
    {"role": "user", "content": "Thanks!"},
    {"role": "assistant", "content": "천만에요."},
]


@pytest.fixture(scope="module")
def qwen_base(tmp_path_factory) -> Path:
    return make_qwen2(tmp_path_factory.mktemp("qwen_base"), tie_word_embeddings=False)


@pytest.fixture(scope="module")
def qtok(qwen_base):
    return loading.load_tokenizer(qwen_base, PERSONA)


QWEN2_VOCAB = Path(
    os.environ.get("JAVIS_QWEN2_VOCAB", Path.home() / ".cache/javis/ggml-vocab-qwen2.gguf")
)


@pytest.fixture(scope="module")
def real_qtok(qwen_base, tmp_path_factory):
    """Qwen2's own tokenizer (from llama.cpp's vocab GGUF) in a Qwen2 base folder, our template."""
    if not QWEN2_VOCAB.is_file():
        pytest.skip(f"{QWEN2_VOCAB} is missing (.ci/run extracts it from llama-cpp-python's sdist)")
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("qwen2_real")
    shutil.copy(qwen_base / "config.json", folder / "config.json")
    real = AutoTokenizer.from_pretrained(str(QWEN2_VOCAB.parent), gguf_file=QWEN2_VOCAB.name)
    assert len(real) == 151936, "Qwen2's vocabulary"
    real.save_pretrained(folder)
    return loading.load_tokenizer(folder, PERSONA)


def render(tok, messages, **kw) -> str:
    return tok.apply_chat_template(template.prepare_messages(messages), tokenize=False, **kw)


def test_a_qwen2_base_gets_qwens_format_and_others_ours(qwen_base, qtok, tiny_base):
    assert loading.model_type(qwen_base) == "qwen2", "the tiny model is a Qwen2"
    first = qtok.chat_template.split("\n", 1)[0]
    assert template.QWEN_MARKER in first, f"Qwen2 base: Qwen's template, got {first!r}"
    assert template.is_ours(qtok), "and it is recognised as one of ours (adapters load it)"
    llama = loading.load_tokenizer(tiny_base, PERSONA)
    assert template.MARKER in llama.chat_template.split("\n", 1)[0], "a Llama base keeps ChatML"


def test_tool_results_are_one_user_turn_of_tool_responses(qtok):
    text = render(qtok, CONV, tools=TOOLS)
    merged = (
        '<|im_start|>user\n<tool_response>\n{"temp_c": 3}\n</tool_response>\n'
        '<tool_response>\n{"temp_c": 9}\n</tool_response><|im_end|>\n'
    )
    assert merged in text, f"consecutive results merged into one user turn:\n{text}"
    assert "<|im_start|>tool" not in text, "no tool role: Qwen never saw one"
    assert text.startswith(f"<|im_start|>system\n{PERSONA}\n\n# Tools\n"), "persona + tools"
    assert "Qwen, created by Alibaba" not in text, "our persona replaces Qwen's default"


def test_renders_exactly_as_trls_qwen2_5_training_template(qtok):
    """Byte for byte Qwen2.5's own format (TRL's copy) for the same conversation, system given."""
    import trl
    from transformers import PreTrainedTokenizerFast

    trl_source = (
        Path(trl.__file__).parent / "chat_templates" / "qwen2_5_training.jinja"
    ).read_text()
    reference = PreTrainedTokenizerFast(tokenizer_object=qtok.backend_tokenizer)
    reference.chat_template = trl_source
    conv = [{"role": "system", "content": PERSONA}, *CONV]
    for tools in (None, TOOLS):
        ours = qtok.apply_chat_template(conv, tools=tools, tokenize=False)
        theirs = reference.apply_chat_template(conv, tools=tools, tokenize=False)
        assert ours == theirs, f"tools={bool(tools)}: ours\n{ours}\ntheirs\n{theirs}"
    ours = qtok.apply_chat_template(conv[:2], tokenize=False, add_generation_prompt=True)
    theirs = reference.apply_chat_template(conv[:2], tokenize=False, add_generation_prompt=True)
    assert ours == theirs, "the generation prompt too"


@pytest.mark.parametrize("which", ["tiny", "qwen2"])
def test_the_loss_mask_is_the_assistant_tokens_and_their_end_of_turn(which, request):
    qtok = request.getfixturevalue("qtok" if which == "tiny" else "real_qtok")
    enc = qtok.apply_chat_template(
        template.prepare_messages(CONV),
        tools=TOOLS,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    ids, mask = enc["input_ids"], enc["assistant_masks"]
    trained = qtok.decode([i for i, m in zip(ids, mask, strict=True) if m])
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Seoul"}}\n</tool_call>'
    expected = f"{call}\n{call}<|im_end|>Seoul 3°C, Busan 9°C.<|im_end|>천만에요.<|im_end|>"
    assert trained == expected, f"trained tokens: {trained!r}"
    im_end = qtok.convert_tokens_to_ids("<|im_end|>")
    ends = [m for i, m in zip(ids, mask, strict=True) if i == im_end]
    assert sum(ends) == 3, f"the 3 answers' <|im_end|> are trained, the other turns' not: {ends}"


def test_trl_trains_only_the_answers_on_a_qwen2_base(qwen_base, qtok, tmp_path):
    """SFTTrainer's own tokenisation (assistant_only_loss) on the Qwen format: the labels are
    exactly the masked tokens (javis/model/train_rows.py counts them the same)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from javis.model.train_rows import sft_lengths

    row = {"messages": template.prepare_messages(CONV), "tools": template.tools_json(TOOLS)}
    _, trained = sft_lengths(qtok, [row], 1024)
    args = SFTConfig(
        output_dir=str(tmp_path / "out"),
        use_cpu=True,
        assistant_only_loss=True,
        max_steps=1,
        report_to="none",
        max_length=1024,
    )
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(qwen_base),
        args=args,
        processing_class=qtok,
        train_dataset=Dataset.from_list([row]),
    )
    labels = trainer.data_collator([trainer.train_dataset[0]])["labels"][0].tolist()
    assert sum(1 for t in labels if t != -100) == trained[0], "labels = the assistant tokens"


def test_saved_adapter_tokenizer_keeps_the_qwen_format(qtok, tmp_path):
    qtok.save_pretrained(tmp_path)
    again = loading.load_tokenizer(tmp_path)  # evaluate/chat/serve: the adapter's own template
    assert again.chat_template == qtok.chat_template, "the template travels with the adapter"
    one = json.loads(json.dumps(CONV[:4]))
    assert render(again, one) == render(qtok, one), "and renders the same"
