from tunesmith.data import Example
from tunesmith.models.chat import chat_text, encode_example, prompt_text
from tunesmith.models.heads import IGNORE_INDEX


def labelled_text(tokenizer, encoded) -> str:
    return tokenizer.decode([token for token in encoded["labels"] if token != IGNORE_INDEX])


def qa(question: str, answer: str) -> Example:
    return Example(messages=({"role": "user", "content": question}, {"role": "assistant", "content": answer}))


def test_loss_is_on_the_answer_and_its_end_token_only(tiny_tokenizer):
    encoded = encode_example(tiny_tokenizer, qa("What are your hours?", "9 am to 6 pm."), max_length=128)
    assert len(encoded["labels"]) == len(encoded["input_ids"])
    assert labelled_text(tiny_tokenizer, encoded) == "9 am to 6 pm.<|im_end|>\n"
    first_label = next(i for i, token in enumerate(encoded["labels"]) if token != IGNORE_INDEX)
    assert tiny_tokenizer.decode(encoded["input_ids"][:first_label]).endswith("<|im_start|>assistant\n")


def test_every_assistant_turn_of_a_conversation_is_learned_and_nothing_else(tiny_tokenizer):
    example = Example(
        messages=(
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello there"},
            {"role": "user", "content": "Hours?"},
            {"role": "assistant", "content": "Nine to six"},
        )
    )
    encoded = encode_example(tiny_tokenizer, example, max_length=128)
    assert labelled_text(tiny_tokenizer, encoded) == "Hello there<|im_end|>\nNine to six<|im_end|>\n"


def test_system_prompt_is_prepended_and_not_learned(tiny_tokenizer):
    example = qa("Q?", "A.")
    text = chat_text(tiny_tokenizer, example.messages, "You are terse.")
    assert text.startswith("<|im_start|>system\nYou are terse.<|im_end|>")
    encoded = encode_example(tiny_tokenizer, example, max_length=128, system_prompt="You are terse.")
    assert labelled_text(tiny_tokenizer, encoded) == "A.<|im_end|>\n"
    assert prompt_text(tiny_tokenizer, example.prompt, "You are terse.").endswith("<|im_start|>assistant\n")


def test_long_examples_are_cut_at_max_length(tiny_tokenizer):
    encoded = encode_example(tiny_tokenizer, qa("Q?", "word " * 200), max_length=32)
    assert len(encoded["input_ids"]) == 32 == len(encoded["labels"])


def test_train_on_prompt_learns_the_user_turns_text_but_not_the_markup_or_the_system_prompt(tiny_tokenizer):
    example = Example(
        messages=(
            {"role": "user", "content": "terse hours?"},
            {"role": "assistant", "content": "Nine to six"},
            {"role": "user", "content": "And Sunday?"},
            {"role": "assistant", "content": "Closed"},
        )
    )
    encoded = encode_example(tiny_tokenizer, example, 128, system_prompt="You are terse.", prompt_loss=True)
    learned = labelled_text(tiny_tokenizer, encoded)
    assert learned == "terse hours?Nine to six<|im_end|>\nAnd Sunday?Closed<|im_end|>\n"
    plain = encode_example(tiny_tokenizer, example, 128, system_prompt="You are terse.")
    assert plain["input_ids"] == encoded["input_ids"]  # the same tokens: only what is learned differs
