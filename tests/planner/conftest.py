"""Tiny randomly initialised VLMs saved to disk the way downloaded checkpoints are: ours (planner.tiny_vlm)
and two real Hugging Face families, SmolVLM/Idefics3 (chat template) and PaliGemma (plain prefix prompt),
whose tokenizers are byte-level BPEs trained here on a few sentences. Nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

CORPUS = ["a robot pushes blocks around a table", "push the red cube to the top left corner",
          '{"blocks": ["blue cylinder"], "subgoals": []}'] * 5


def _tokenizer(specials: list[str], **named) -> PreTrainedTokenizerFast:
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=400, special_tokens=specials, show_progress=False,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=bpe, **named)


def _finish(model, processor, tok, path: Path) -> Path:
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    processor.save_pretrained(path)
    model.save_pretrained(path)
    return path


def smolvlm(path: Path) -> Path:
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    tok = _tokenizer(["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>",
                      "<global-img>"], eos_token="<end_of_utterance>", pad_token="<|endoftext|>", bos_token="<|im_start|>")
    template = ("{% for m in messages %}<|im_start|>{{ m['role'] | capitalize }}:{% for c in m['content'] %}"
                "{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
                "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}")
    images = Idefics3ImageProcessorPil(do_image_splitting=False, size={"longest_edge": 64}, max_image_size={"longest_edge": 64})
    processor = Idefics3Processor(image_processor=images, tokenizer=tok, image_seq_len=4, chat_template=template)
    config = Idefics3Config(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=64, patch_size=16),
        text_config=dict(model_type="llama", vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2, pad_token_id=tok.pad_token_id,
                         eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id),
        scale_factor=2, image_token_id=tok.convert_tokens_to_ids("<image>"))
    return _finish(Idefics3ForConditionalGeneration(config), processor, tok, path)


def paligemma(path: Path) -> Path:
    from transformers import PaliGemmaConfig, PaliGemmaForConditionalGeneration, PaliGemmaProcessor
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    tok = _tokenizer(["<pad>", "<eos>", "<bos>", "<image>"], eos_token="<eos>", pad_token="<pad>", bos_token="<bos>")
    images = SiglipImageProcessorPil(size={"height": 64, "width": 64}, image_seq_length=16)
    processor = PaliGemmaProcessor(image_processor=images, tokenizer=tok)
    config = PaliGemmaConfig(
        vision_config=dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                           num_attention_heads=2, image_size=64, patch_size=16, projection_dim=32),
        text_config=dict(model_type="gemma", vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id),
        image_token_id=tok.convert_tokens_to_ids("<image>"), projection_dim=32)
    return _finish(PaliGemmaForConditionalGeneration(config), processor, tok, path)


FAMILIES = {"smolvlm": smolvlm, "paligemma": paligemma}


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models: a second thread only adds contention on a shared machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


TINY = dict(vision_hidden=32, vision_layers=1, vision_heads=2, vision_mlp=64, text_hidden=48, text_layers=2,
            text_heads=2, text_mlp=96, max_positions=256)


@pytest.fixture(scope="session")
def generic_tokenizer() -> PreTrainedTokenizerFast:
    return _tokenizer(["<pad>", "<eos>"], eos_token="<eos>", pad_token="<pad>")


@pytest.fixture(scope="session")
def tiny_processor():
    from planner.tiny_vlm import TinyVLMConfig, build_processor, task_corpus, train_tokenizer

    return build_processor(train_tokenizer(task_corpus(repeats=5), 600), TinyVLMConfig(**TINY))


@pytest.fixture
def tiny_vlm(tiny_processor):
    """(model, processor) of an untrained tiny VLM of our own architecture."""
    from planner.tiny_vlm import TinyVLMConfig, build_model

    torch.manual_seed(0)
    return build_model(TinyVLMConfig(**TINY), tiny_processor.tokenizer), tiny_processor


@pytest.fixture(scope="session", params=sorted(FAMILIES))
def hf_family_dir(request, tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return FAMILIES[request.param](tmp_path_factory.mktemp(request.param))
