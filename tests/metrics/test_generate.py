"""Batched generation: beams count toward the batch, and batching does not change what each prompt gets."""

import pytest
import torch

from tunesmith.metrics.generate import generate
from tunesmith.models.load import load_base_model, load_tokenizer

PROMPTS = ["one two three", "a much longer prompt with many more words in it", "short", "four five", "six"]
BEAM_SEARCH = {"num_beams": 4, "no_repeat_ngram_size": 2, "early_stopping": True}


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model_dir):
    return load_base_model(tiny_model_dir), load_tokenizer(tiny_model_dir)


def calls_made(model, monkeypatch) -> list[int]:
    """Records the number of prompts in each ``model.generate`` call."""
    sizes, real_generate = [], model.generate

    def counting(**kwargs):
        sizes.append(kwargs["input_ids"].shape[0])
        return real_generate(**kwargs)

    monkeypatch.setattr(model, "generate", counting)
    return sizes


def test_beam_search_takes_a_batch_of_sequences_not_of_prompts(model_and_tokenizer, monkeypatch):
    model, tokenizer = model_and_tokenizer
    sizes = calls_made(model, monkeypatch)
    answers = generate(model, tokenizer, PROMPTS, 6, batch_size=8, settings=BEAM_SEARCH)
    assert sizes == [2, 2, 1] and len(answers) == len(PROMPTS)
    sizes.clear()
    generate(model, tokenizer, PROMPTS, 6, batch_size=8)
    assert sizes == [5]


def test_answers_keep_the_prompts_order_whatever_the_batch(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    alone = [generate(model, tokenizer, [prompt], 6, batch_size=1)[0] for prompt in PROMPTS]
    together = generate(model, tokenizer, PROMPTS, 6, batch_size=3)
    assert [answer.text for answer in together] == [answer.text for answer in alone]


class Prefer:
    """A model that wants to write ``target``: +50 on its next token at every step (a ban still wins)."""

    def __init__(self, target: list[int], prompt_length: int):
        self.target, self.prompt_length = target, prompt_length

    def __call__(self, input_ids, scores):
        step = input_ids.shape[1] - self.prompt_length
        if step < len(self.target):
            scores[:, self.target[step]] += 50.0
        return scores


def copies(model, tokenizer, prompt: str, name: str, settings: dict) -> str:
    """What ``generate`` writes for ``prompt`` when the model wants to repeat ``name`` from it."""
    from transformers import LogitsProcessorList

    target = tokenizer(name, add_special_tokens=False)["input_ids"]
    length = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"].shape[1]
    start = 1 if model.config.is_encoder_decoder else length  # the decoder starts after its start token
    prefer = LogitsProcessorList([Prefer(target, start)])
    [answer] = generate(model, tokenizer, [prompt], len(target), settings={**settings, "logits_processor": prefer})
    return answer.text


@pytest.mark.parametrize("family", ["tiny_model_dir", "tiny_t5_dir"])
def test_a_summary_may_repeat_a_three_token_name_from_the_dialogue(family, request):
    """The repetition guard looks at the generated tokens only: a name the dialogue holds stays copyable."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    folder = request.getfixturevalue(family)
    tokenizer = load_tokenizer(folder)
    model = AutoModelForSeq2SeqLM.from_pretrained(folder) if "t5" in family else load_base_model(folder)
    prompt = "Anna: PressCrafters Printing Company prints the wedding invitations"
    name = " PressCrafters Printing Company"
    assert len(tokenizer(name, add_special_tokens=False)["input_ids"]) >= 3
    for settings in ({}, {"no_repeat_ngram_size": 3}, {"no_repeat_ngram_size": 3, "num_beams": 2}):
        assert copies(model, tokenizer, prompt, name, settings) == name.strip(), settings
    if not model.config.is_encoder_decoder:  # transformers' own ban covers the prompt of a decoder-only model
        with torch.inference_mode():
            ids = tokenizer(prompt + name, add_special_tokens=False, return_tensors="pt")["input_ids"]
        from transformers.generation.logits_process import NoRepeatNGramLogitsProcessor

        scores = NoRepeatNGramLogitsProcessor(3)(ids[:, :-1], torch.zeros(1, len(tokenizer)))
        assert scores[0, ids[0, -1]] == -float("inf")  # the old default: the name's last token was banned


def test_the_guard_still_bans_a_trigram_the_answer_repeats():
    import torch

    from tunesmith.models.decoding import ContinuationNoRepeatNGram

    prompt = [7, 8, 9]
    guard = ContinuationNoRepeatNGram(3, prompt_length=len(prompt))
    free = guard(torch.tensor([prompt + [7, 8]]), torch.zeros(1, 12))
    assert torch.isfinite(free).all()  # 7 8 9 is the prompt's: 9 may follow again
    banned = guard(torch.tensor([prompt + [1, 2, 3, 4, 1, 2]]), torch.zeros(1, 12))
    assert banned[0, 3] == -float("inf") and torch.isfinite(banned[0, [0, 1, 2, 4, 5]]).all()


def test_loops_are_found_by_their_repeated_block():
    from tunesmith.models.decoding import loop_period

    assert loop_period([9, 1, 2, 3, 4] + [1, 2, 3, 4] * 2) == 4  # 3 copies of a 4-token block
    assert loop_period([7] * 12) == 1 and loop_period([7] * 11) == 0  # one token: 12 copies, not "ha ha ha"
    assert loop_period([1, 2] * 6) == 2 and loop_period([1, 2] * 5) == 0
    assert loop_period([1, 2, 3, 4] * 3 + [5]) == 0  # the loop has to be where the answer stands


class Cycle:
    """A model stuck in a loop: it wants ``block`` again and again."""

    def __init__(self, block: list[int], prompt_length: int):
        self.block, self.prompt_length = block, prompt_length

    def __call__(self, input_ids, scores):
        step = input_ids.shape[1] - self.prompt_length
        scores[:, self.block[step % len(self.block)]] += 50.0
        return scores


def test_a_greedy_answer_in_a_loop_stops_and_keeps_the_block_once(model_and_tokenizer, monkeypatch):
    from transformers import LogitsProcessorList

    model, tokenizer = model_and_tokenizer
    block = tokenizer("the shop opens at nine", add_special_tokens=False)["input_ids"]
    prompt_length = tokenizer(["loop"], return_tensors="pt")["input_ids"].shape[1]
    steps = []
    real = model.generate
    monkeypatch.setattr(model, "generate", lambda **kw: steps.append(out := real(**kw)) or out)
    settings = {"logits_processor": LogitsProcessorList([Cycle(block, prompt_length)])}
    [answer] = generate(model, tokenizer, ["loop"], 60, batch_size=1, settings=settings)
    assert answer.looped and not answer.cut
    assert answer.text == tokenizer.decode(block, skip_special_tokens=True).strip()
    assert steps[0].shape[1] - prompt_length == len(block) * 3  # stopped when the third copy ended, not at 60
    [plain] = generate(model, tokenizer, ["one two three"], 8, batch_size=1)
    assert not plain.looped  # an answer that does not loop is decoded as before


def generate_options(model, monkeypatch) -> list[dict]:
    """Records the options of each ``model.generate`` call and the dtype of the weights it ran with."""
    calls, real_generate = [], model.generate

    def recording(**kwargs):
        calls.append({**kwargs, "dtype": model.dtype})
        return real_generate(**kwargs)

    monkeypatch.setattr(model, "generate", recording)
    return calls


def test_bf16_decoding_runs_on_bf16_weights_and_gives_the_fp32_ones_back(tiny_model_dir, monkeypatch):
    model, tokenizer = load_base_model(tiny_model_dir), load_tokenizer(tiny_model_dir)
    before = {name: (parameter.data_ptr(), parameter.data.clone()) for name, parameter in model.named_parameters()}
    calls = generate_options(model, monkeypatch)
    answers = generate(model, tokenizer, PROMPTS, 6, batch_size=8, bf16=True)
    assert len(answers) == len(PROMPTS) and [call["dtype"] for call in calls] == [torch.bfloat16]
    for name, parameter in model.named_parameters():
        address, values = before[name]  # the very same storage, not a copy cast back
        assert parameter.data_ptr() == address and parameter.dtype == torch.float32
        assert torch.equal(parameter.data, values)
    calls.clear()
    generate(model, tokenizer, PROMPTS, 6, batch_size=8)  # fp32 asked: the weights as they are
    assert [call["dtype"] for call in calls] == [torch.float32]


def test_bf16_decoding_writes_what_the_same_weights_in_bf16_write(tiny_model_dir):
    """Greedy and beam search alike: the answers of a bf16 call are those of a bf16 copy of the model."""
    import copy

    model, tokenizer = load_base_model(tiny_model_dir), load_tokenizer(tiny_model_dir)
    half = copy.deepcopy(model).to(torch.bfloat16)
    for settings in ({}, {"num_beams": 4}):
        answers = generate(model, tokenizer, PROMPTS, 4, batch_size=8, bf16=True, settings=settings)
        copied = generate(half, tokenizer, PROMPTS, 4, batch_size=8, bf16=True, settings=settings)
        assert [answer.text for answer in answers] == [answer.text for answer in copied]
        assert any(answer.text for answer in answers)


def test_the_vocabulary_projection_reads_contiguous_hidden_states_during_generation_only(tiny_model_dir):
    """A strided slice reaching the projection made torch expand the weight once per sequence (see
    ``_contiguous_head``); the hook that copies it is gone once ``generate`` returns."""
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(load_base_model(tiny_model_dir), LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    tokenizer, head = load_tokenizer(tiny_model_dir), model.get_output_embeddings()
    seen = []
    spy = head.register_forward_hook(lambda module, args, output: seen.append(args[0].is_contiguous()))
    answers = generate(model, tokenizer, PROMPTS, 4, batch_size=8)
    spy.remove()
    assert len(answers) == len(PROMPTS) and seen and all(seen)
    assert not head._forward_pre_hooks and not head._forward_hooks
