import pytest
import torch

from planner.constrained_decoding import GrammarConstraint, GrammarLogitsProcessor, token_texts
from planner.plan_format import PlanGrammar, parse_answer


@pytest.fixture(params=["tiny_vlm", "generic_bpe"])
def tokenizer(request, tiny_processor, generic_tokenizer):
    """Ours (phrase tokens) and a plain byte-level BPE like most real VLMs'."""
    return tiny_processor.tokenizer if request.param == "tiny_vlm" else generic_tokenizer


def _decode_random(constraint: GrammarConstraint, rows: int, seed: int, max_new: int) -> list[list[int]]:
    """Greedy decoding of random logits through the processor, as `generate` does it."""
    g = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, len(constraint.texts), (rows, 5), generator=g)
    processor = GrammarLogitsProcessor(constraint, prompt.shape[1])
    ids = prompt
    eos = constraint.eos_token_ids[0]
    for _ in range(max_new):
        scores = processor(ids, torch.randn(rows, len(constraint.texts), generator=g) * 5)
        nxt = scores.argmax(-1)
        done = (ids[:, prompt.shape[1]:] == eos).any(-1) if ids.shape[1] > prompt.shape[1] else torch.zeros(rows, dtype=torch.bool)
        ids = torch.cat([ids, torch.where(done, torch.tensor(0), nxt)[:, None]], dim=1)
        if (ids[:, prompt.shape[1]:] == eos).any(-1).all():
            break
    return ids[:, prompt.shape[1]:].tolist()


def test_random_logits_always_decode_to_a_parseable_plan(tokenizer):
    grammar = PlanGrammar(max_subgoals=3)
    constraint = GrammarConstraint(grammar, tokenizer, [tokenizer.eos_token_id])
    for seed in range(4):
        for row in _decode_random(constraint, rows=8, seed=seed, max_new=grammar.max_chars + 1):
            text, complete = constraint.text(row)
            assert complete, text
            assert parse_answer(text).subgoals


def test_allowed_tokens_are_exactly_those_the_grammar_takes(tokenizer):
    grammar = PlanGrammar()
    constraint = GrammarConstraint(grammar, tokenizer, [tokenizer.eos_token_id])
    texts = token_texts(tokenizer)
    state = grammar.advance(grammar.start(), '{"blocks": ["red cube", "blue cylinder"], "subgoals": ["push the ')
    allowed = set(constraint.allowed(state).tolist())
    for i, text in enumerate(texts):
        fits = text is not None and grammar.advance(state, text) is not None
        assert (i in allowed) == fits, (i, text)
    assert tokenizer.eos_token_id not in allowed


def test_eos_is_the_only_token_after_a_complete_answer(tokenizer):
    grammar = PlanGrammar()
    constraint = GrammarConstraint(grammar, tokenizer, [tokenizer.eos_token_id])
    state = grammar.advance(grammar.start(), '{"blocks": ["red cube"], "subgoals": ["push the red cube to the center"]}')
    assert constraint.allowed(state).tolist() == [tokenizer.eos_token_id]
