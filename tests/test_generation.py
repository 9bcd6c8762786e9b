"""javis/model/generation.py: batched greedy answers, in order, the same as HF `generate` gives."""

from __future__ import annotations

import pytest
from helpers import CONVS

from javis.model import generation, template


def test_generate_batch_is_in_order_and_batching_does_not_change_answers(loaded):
    model, tok = loaded
    batched = generation.generate_batch(model, tok, CONVS, max_new_tokens=6, batch_size=3)
    single = [
        generation.generate_batch(model, tok, [c], max_new_tokens=6, batch_size=1)[0] for c in CONVS
    ]
    assert len(batched) == 3, "one answer per conversation"
    assert batched == single, "batching does not change an answer, nor the order"
    assert tok.padding_side == "right"  # generation pads left internally, training pads right


@pytest.fixture(scope="module")
def sharp(tmp_path_factory, loaded):
    """A tiny Llama whose attention is peaked (large random weights, short RoPE wavelengths), so a
    wrong position or mask changes its greedy tokens; the default init's is nearly uniform."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    base, tok = loaded
    config = LlamaConfig(**{**base.config.to_dict(), "initializer_range": 0.3, "rope_theta": 50.0})
    torch.manual_seed(0)
    return LlamaForCausalLM(config).eval(), tok


def test_batched_decoding_matches_hf_generate_when_answers_end_at_different_steps(sharp):
    """generate_batch's decoding (each prompt prefilled alone, caches joined left-padded, a row
    leaving at its end token) gives the tokens HF's `generate` gives for each prompt alone. The tiny
    model never says <|im_end|>, so a token it says early in one answer and never in the others is
    the end token here: that row ends first, the others run to the limit."""
    import torch
    from transformers import GenerationConfig

    model, tok = sharp
    n_new = 10
    rows = [
        tok(
            tok.apply_chat_template(
                template.prepare_messages(c), add_generation_prompt=True, tokenize=False
            ),
            add_special_tokens=False,
        )["input_ids"]
        for c in CONVS
    ]

    def hf(ids: list[int], end: int) -> list[int]:
        x = torch.tensor([ids])
        config = GenerationConfig(
            max_new_tokens=n_new, do_sample=False, eos_token_id=end, pad_token_id=tok.pad_token_id
        )
        with torch.inference_mode():
            new = model.generate(
                input_ids=x, attention_mask=torch.ones_like(x), generation_config=config
            )[0, len(ids) :].tolist()
        return new[: new.index(end) + 1] if end in new else new

    free = [hf(ids, -1) for ids in rows]
    end, ender = next(
        (t, r)
        for r, seq in enumerate(free)
        for t in seq[1:6]
        if all(t not in other for o, other in enumerate(free) if o != r)
    )
    expected = [hf(ids, end) for ids in rows]
    with torch.inference_mode():
        got = [a.ids for a in generation._decode_batch(model, rows, end, n_new)]
    assert got == expected
    assert len(got[ender]) < n_new, "the row that says the end token leaves early"
    assert got[ender][-1] == end, "with the end token as its last"
    assert all(len(seq) == n_new for r, seq in enumerate(got) if r != ender)


def test_generate_batch_falls_back_to_hf_generate_for_sliding_window_caches(loaded):
    """A model whose cache layers are not plain keys/values (here Mistral's sliding window, shorter
    than the prompts) cannot have its prefill caches joined: generate_batch uses HF `generate` on
    the padded batch and still gives each prompt's answer, in input order."""
    import torch
    from transformers import GenerationConfig, MistralConfig, MistralForCausalLM

    base, tok = loaded
    config = MistralConfig(
        **{
            k: getattr(base.config, k)
            for k in (
                "vocab_size",
                "hidden_size",
                "intermediate_size",
                "num_hidden_layers",
                "num_attention_heads",
                "num_key_value_heads",
                "bos_token_id",
                "eos_token_id",
                "pad_token_id",
            )
        },
        sliding_window=8,
    )
    torch.manual_seed(0)
    model = MistralForCausalLM(config).eval()
    convs = CONVS[:2]
    assert not generation._joinable_cache(model), "a sliding-window cache is not joinable"
    assert generation._joinable_cache(base), "a plain Llama cache is"
    got = generation.generate_batch(model, tok, convs, max_new_tokens=5, batch_size=2)
    expected = []
    for conv in convs:
        text = tok.apply_chat_template(
            template.prepare_messages(conv), add_generation_prompt=True, tokenize=False
        )
        ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
        gen_config = GenerationConfig(
            max_new_tokens=5,
            do_sample=False,
            eos_token_id=tok.convert_tokens_to_ids(template.IM_END),
            pad_token_id=tok.pad_token_id,
        )
        with torch.inference_mode():
            gen = model.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=gen_config
            )
        expected.append(tok.decode(gen[0, ids.shape[1] :], skip_special_tokens=True).strip())
    assert got == expected


def test_one_prefill_gives_the_reference_nll_and_the_same_answer(loaded):
    """answer_ids reads a reference on top of the prompt's prefill cache (its NLL), then cuts the
    cache back to the prompt and answers: the NLL equals a plain forward's, the answer equals the
    answer without a reference."""
    import torch
    import torch.nn.functional as F

    model, tok = loaded
    prompts = [
        tok.apply_chat_template(c, add_generation_prompt=True, tokenize=True, return_dict=False)
        for c in CONVS
    ]
    prompts = [list(p["input_ids"]) if isinstance(p, dict) else list(p) for p in prompts]
    targets = [tok("I am fine, thank you.<|im_end|>", add_special_tokens=False)["input_ids"]] * len(
        prompts
    )
    end = tok.convert_tokens_to_ids("<|im_end|>")
    both = generation.answer_ids(
        model, prompts, eos=end, pad=tok.pad_token_id, targets=targets, max_new_tokens=6
    )
    plain = generation.answer_ids(model, prompts, eos=end, pad=tok.pad_token_id, max_new_tokens=6)
    for a, b, p, t in zip(both, plain, prompts, targets, strict=True):
        assert a.ids == b.ids, "the reference does not change the answer"
        ids = torch.tensor([p + t])
        with torch.inference_mode():
            logits = model(input_ids=ids).logits[0, len(p) - 1 : -1]
        want = float(F.cross_entropy(logits.float(), torch.tensor(t), reduction="sum"))
        assert a.tokens == len(t), "every reference token is scored"
        assert a.nll == pytest.approx(want, rel=1e-4), "the NLL of a plain forward"


def test_the_repetition_rule_stops_a_loop_and_nothing_else():
    loop = [5, 6, 7] * 12
    assert generation.repeating(loop), "a 3-token cycle repeated 12 times loops"
    assert not generation.repeating(list(range(40))), "no repetition"
    cut = generation.cut_repetition([1, 2, 3, 4] + [9] * 40)
    assert cut == [1, 2, 3, 4] + [9] * (generation.REPEAT_SPAN + 1), cut
    assert generation.cut_repetition(list(range(40))) == list(range(40)), "untouched"


def test_length_buckets_keep_padding_small():
    from javis.model import loss

    lengths = [400, 390, 380, 60, 58, 55, 20, 20, 21, 300]
    batches = loss.length_buckets(lengths, batch_size=4)
    assert sorted(i for b in batches for i in b) == list(range(10)), "every row once"
    for b in batches:
        width, real = max(lengths[i] for i in b), sum(lengths[i] for i in b)
        assert width * len(b) <= 1.1 * real, f"padding within 10%: {[lengths[i] for i in b]}"
    assert max(len(b) for b in batches) <= 4, batches
