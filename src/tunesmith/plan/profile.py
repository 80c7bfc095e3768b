"""DataProfile: the facts about a dataset that the plan needs (sizes and token lengths)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tunesmith.data import Splits


@dataclass(frozen=True)
class LengthStats:
    mean: float
    p50: int
    p95: int
    p99: int
    max: int
    total: int

    @classmethod
    def of(cls, lengths: list[int]) -> LengthStats:
        if not lengths:
            return cls(0.0, 0, 0, 0, 0, 0)
        ordered = sorted(lengths)

        def pick(share: float) -> int:
            return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

        return cls(sum(ordered) / len(ordered), pick(0.5), pick(0.95), pick(0.99), ordered[-1], sum(ordered))


@dataclass(frozen=True)
class DataProfile:
    n_train: int
    n_valid: int
    n_test: int
    n_categories: int
    sequence: LengthStats  # whole templated conversation, in tokens
    answer: LengthStats  # the training answers alone, in tokens (the test split's are not looked at)
    train_tokens: int  # one epoch, before truncation

    def to_dict(self) -> dict:
        return asdict(self)


def profile_splits(splits: Splits, tokenizer, system_prompt: str | None = None) -> DataProfile:
    """Measure the splits with the model's own tokenizer and chat template."""
    from tunesmith.models.chat import chat_text

    every = splits.train + splits.valid + splits.test
    sequence = [len(tokenizer(chat_text(tokenizer, ex.messages, system_prompt)).input_ids) for ex in every]
    train_sequence = sequence[: len(splits.train)]
    # + the end token; a training document is no answer: the generation budget follows the answers alone
    answers = [
        len(tokenizer(ex.answer, add_special_tokens=False).input_ids) + 1 for ex in splits.train if not ex.is_document
    ]
    return DataProfile(
        n_train=len(splits.train),
        n_valid=len(splits.valid),
        n_test=len(splits.test),
        n_categories=len({ex.category for ex in every if ex.category}),
        sequence=LengthStats.of(sequence),
        train_tokens=sum(train_sequence),
        answer=LengthStats.of(answers),
    )
