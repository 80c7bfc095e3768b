"""The answer-only head: the loss (and the logits) of a causal LM on its labelled (answer) positions alone.

Labels are the input ids on the answer tokens and IGNORE_INDEX elsewhere (see :mod:`tunesmith.models.chat`).
"""

from __future__ import annotations

IGNORE_INDEX = -100


def plain_model(model):
    """The transformers model under a PEFT wrapper (a full fine-tune's model is one already)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def supports_answer_only_head(model) -> bool:
    """Whether :func:`answer_only_loss` computes the same loss as the model's own forward.

    It does for decoders whose logits are a plain linear map of the last hidden state (Llama, Qwen, Mistral, ...),
    not for those that scale or soft-cap their logits.
    """
    causal_lm = plain_model(model)
    config = causal_lm.config
    if (
        config.is_encoder_decoder
        or getattr(config, "final_logit_softcapping", None)
        or getattr(config, "logit_scale", None)
    ):
        return False
    return hasattr(causal_lm, "get_decoder") and causal_lm.get_output_embeddings() is not None


def answer_only_loss(model, inputs: dict, num_items_in_batch=None, parent_kl_weight: float = 0.0):
    """Cross-entropy on the labelled (answer) positions, running the vocabulary projection only there.

    A causal LM's forward projects every position onto the vocabulary; with prompts that carry no loss, most of
    that work (and its fp32 logits) is wasted. Summed over answer tokens, divided by ``num_items_in_batch`` (the
    answer tokens of the whole accumulated batch) when given, else by this batch's answer tokens.

    With ``parent_kl_weight`` > 0 the loss adds that weight times KL(parent || model) on the same tokens, where
    the parent is the model with its adapter switched off: in a continued run, the previous round's model.
    """
    import torch
    import torch.nn.functional as F

    logits, targets, _ = answer_logits(model, inputs)
    loss = F.cross_entropy(logits, targets, reduction="sum")
    if parent_kl_weight > 0:
        with torch.no_grad(), model.disable_adapter():
            parent_logits, _, _ = answer_logits(model, inputs)
        log_model, log_parent = F.log_softmax(logits, dim=-1), F.log_softmax(parent_logits, dim=-1)
        loss = loss + parent_kl_weight * F.kl_div(log_model, log_parent, log_target=True, reduction="sum")
    divisor = num_items_in_batch if num_items_in_batch is not None else targets.numel() or 1
    return loss / divisor


def answer_logits(model, inputs: dict):
    """fp32 logits of the labelled positions only, their target tokens, and the mask that picked them."""
    causal_lm = plain_model(model)
    hidden = causal_lm.get_decoder()(
        input_ids=inputs["input_ids"],
        attention_mask=inputs.get("attention_mask"),
        position_ids=inputs.get("position_ids"),  # packed rows: positions restart per example, attention too
        use_cache=False,  # with a cache, transformers ignores the packed positions when masking attention
    ).last_hidden_state
    targets = inputs["labels"][:, 1:]
    keep = targets != IGNORE_INDEX
    return causal_lm.get_output_embeddings()(hidden[:, :-1][keep]).float(), targets[keep], keep
