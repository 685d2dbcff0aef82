import copy

import torch


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a * b).sum())


def test_paraphrases_are_closer_than_unrelated_subgoals(minilm):
    push, paraphrase, unrelated = minilm.embed([
        "push the red block to the top left corner",
        "slide the red cube into the upper-left corner",   # never seen anywhere: any string works
        "what time does the bakery open on sundays",
    ])
    assert push.shape == (384,)
    assert _cos(push, paraphrase) > _cos(push, unrelated) + 0.3
    # (not asserted, and worth knowing: MiniLM puts "push the blue block to the bottom right corner" closer to
    # the first sentence (0.85) than the paraphrase (0.71) -- the DiT's text projection must learn the details)


def test_embeddings_are_unit_norm_and_match_sentence_transformers_pooling(minilm):
    emb = minilm.embed(["move the green block next to the yellow block", "x"])
    assert emb.shape == (2, 384) and emb.dtype == torch.float32
    assert torch.allclose(emb.norm(dim=1), torch.ones(2), atol=1e-5)
    # batching (padding) must not change an embedding
    alone = minilm.embed(["x"])
    assert torch.allclose(alone[0], emb[1], atol=1e-5)


def test_cache_computes_each_text_once(minilm, monkeypatch):
    calls = []
    original = minilm._compute

    def counting(texts):
        calls.append(list(texts))
        return original(texts)

    monkeypatch.setattr(minilm, "_compute", counting)
    texts = ["push the pink block up", "push the pink block up", "push the orange block down"]
    first = minilm.embed(texts)
    assert calls == [["push the pink block up", "push the orange block down"]]
    second = minilm.embed(list(reversed(texts)))
    assert len(calls) == 1
    assert torch.equal(second, first.flip(0))
    assert torch.equal(first[0], first[1])


def test_empty_batch_and_deepcopy_shares_the_encoder(minilm):
    assert minilm.embed([]).shape == (0, 384)
    assert copy.deepcopy(minilm) is minilm  # world-model copies (EMA evaluation) must not clone 22M weights
