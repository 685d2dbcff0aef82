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
    # (not asserted: MiniLM can put another subgoal, e.g. "push the blue block to the bottom right corner", closer
    # to the first sentence than its paraphrase -- the DiT's text projection must learn the details)


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


def test_token_states_tell_apart_what_the_pooled_vector_barely_does(minilm):
    texts = ["push the red cube to the top left corner", "push the red cube to the top right corner", "x"]
    tokens, mask = minilm.embed_tokens(texts)
    assert tokens.shape[0] == 3 and tokens.shape[2] == 384 and mask.dtype == torch.bool
    assert mask[0].sum() == mask[1].sum() > mask[2].sum() == 3  # [CLS] x [SEP]
    assert torch.all(tokens[2, 3:] == 0)
    # padding in a batch does not change a text's states; the pooled vector is their masked mean, normalised
    alone, _ = minilm.embed_tokens(["x"])
    assert torch.allclose(alone[0], tokens[2, :3], atol=1e-5)
    mean = tokens[0, mask[0]].mean(0)
    assert torch.allclose(torch.nn.functional.normalize(mean, dim=0), minilm.embed(texts[:1])[0], atol=1e-5)
    pooled = minilm.embed(texts[:2])
    left, right = tokens[0, 8], tokens[1, 8]  # "left" / "right": [CLS] push the red cube to the top left
    token_cos = float(torch.nn.functional.cosine_similarity(left, right, dim=0))
    assert _cos(pooled[0], pooled[1]) > 0.98 and token_cos < 0.9, token_cos
