"""Padding-free SFT batches (TRL's collator) give the padded batch's loss and gradients on thinkact's models."""

from __future__ import annotations

from pathlib import Path

import torch
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from thinkact.models.load import load_policy
from thinkact.train.sft import build_dataset


def _loss_and_gradients(
    model: torch.nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[float, list[torch.Tensor]]:
    model.zero_grad()
    inputs = {
        k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "position_ids", "labels")
    }
    loss = model(
        **inputs, use_cache=False
    ).loss  # as TRL's SFTTrainer calls it: a cache would hide the packing
    loss.backward()
    return float(loss.detach()), [p.grad.detach().clone() for p in model.parameters() if p.grad is not None]


def test_padding_free_batches_train_exactly_like_padded_ones(tiny_model_dir: Path, data_dir: Path) -> None:
    model, tokenizer = load_policy(tiny_model_dir)
    dataset, _ = build_dataset(tokenizer, data_dir / "train.jsonl", think=True, max_length=4096)
    examples = []
    for row in dataset.select(range(4)):
        # as TRL folds the completion mask into the labels when it prepares a tokenised dataset
        labels = [t if m else -100 for t, m in zip(row["input_ids"], row["completion_mask"], strict=True)]
        examples.append({"input_ids": row["input_ids"], "labels": labels})
    assert len({len(e["input_ids"]) for e in examples}) > 1  # padding would be needed
    padded = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)(examples)
    joined = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id, padding_free=True)(examples)
    assert joined["input_ids"].shape[0] == 1 and "attention_mask" not in joined
    assert (
        joined["input_ids"].numel()
        == sum(len(e["input_ids"]) for e in examples)
        < padded["input_ids"].numel()
    )
    loss, gradients = _loss_and_gradients(model, padded)
    joined_loss, joined_gradients = _loss_and_gradients(model, joined)
    assert abs(loss - joined_loss) < 1e-5
    for ours, theirs in zip(joined_gradients, gradients, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)
