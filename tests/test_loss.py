"""javis/model/loss.py: the summed NLL of chosen tokens (assistant answers, reference answers)."""

from __future__ import annotations

import math

from helpers import CONVS

from javis.model import loss


def test_assistant_nll_cuts_batches_by_the_logits_budget(loaded, monkeypatch):
    """Long rows go fewer to a batch (the logits of a batch stay within LOGITS_BUDGET floats);
    the losses do not depend on how the rows were batched."""
    model, tok = loaded
    convs = [CONVS[1] + [{"role": "assistant", "content": "Rain " * k}] for k in (1, 5, 20, 40)]
    whole = loss.assistant_nll(model, tok, convs, batch_size=4)
    vocab = model.get_output_embeddings().weight.shape[0]
    assert loss._loss_batches([0, 1, 2], [100, 90, 10], 4, vocab) == [[0, 1, 2]]
    monkeypatch.setattr(loss, "LOGITS_BUDGET", 2 * 100 * vocab)
    assert loss._loss_batches([0, 1, 2], [100, 90, 10], 4, vocab) == [[0, 1], [2]]
    assert loss._loss_batches([0, 1, 2], [300, 90, 10], 4, vocab) == [[0], [1, 2]]
    monkeypatch.setattr(loss, "LOGITS_BUDGET", 1)
    one_by_one = loss.assistant_nll(model, tok, convs, batch_size=4)
    assert [n for _, n in one_by_one] == [n for _, n in whole]
    assert all(
        abs(a - b) < 1e-3 * max(1.0, abs(a))
        for (a, _), (b, _) in zip(one_by_one, whole, strict=True)
    )


def test_assistant_nll_scores_only_answers(loaded):
    import torch

    model, tok = loaded
    conv = CONVS[1] + [{"role": "assistant", "content": "Rain."}]
    (nll, n), (nll2, n2) = loss.assistant_nll(model, tok, [conv, CONVS[0]], batch_size=2)
    assert n2 == 0, "no answer, no token scored"
    assert nll2 == 0.0, "and no loss"
    enc = tok.apply_chat_template(
        conv, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = torch.tensor([enc["input_ids"]]), enc["assistant_masks"]
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
    manual = -sum(float(logp[i - 1, ids[0, i]]) for i in range(1, len(mask)) if mask[i])
    assert n == sum(mask), "exactly the assistant tokens are scored"
    assert math.isclose(nll, manual, rel_tol=1e-4), (nll, manual)
