"""SFT's LM head over the labelled positions alone (train/label_head.py) gives TRL's numbers for less work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling
from trl.trainer.utils import add_fused_lm_head

from thinkact.models.load import load_policy
from thinkact.train.label_head import label_head
from thinkact.train.sft import SFTRunConfig, build_dataset, run_sft

OUTPUTS = ("log_probs", "entropy", "is_top1")  # what TRL's SFTTrainer asks its fused head for


def _examples(tokenizer: Any, data: Path, count: int) -> list[dict[str, list[int]]]:
    dataset, _ = build_dataset(tokenizer, data, think=True, max_length=4096)
    examples = []
    for row in dataset.select(range(count)):  # as TRL folds the completion mask into the labels
        labels = [t if m else -100 for t, m in zip(row["input_ids"], row["completion_mask"], strict=True)]
        examples.append({"input_ids": row["input_ids"], "labels": labels})
    return examples


def _rows_seen_by_head(model: torch.nn.Module, seen: list[int]) -> None:
    model.get_output_embeddings().register_forward_hook(lambda _m, args, _out: seen.append(args[0].shape[0]))


def _run(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> tuple[Any, list[torch.Tensor]]:
    model.zero_grad()
    out = model(**batch, use_cache=False, fused_lm_head=True, num_items_in_batch=torch.tensor(7))
    out.loss.backward()
    return out, [p.grad.detach().clone() for p in model.parameters() if p.grad is not None]


def test_the_head_sees_only_labelled_positions_and_gives_trls_numbers(
    tiny_model_dir: Path, data_dir: Path
) -> None:
    trl_model, tokenizer = load_policy(tiny_model_dir)
    ours, _ = load_policy(tiny_model_dir)
    add_fused_lm_head(trl_model, outputs=OUTPUTS)
    add_fused_lm_head(ours, outputs=OUTPUTS)
    label_head(ours)
    our_rows: list[int] = []  # (TRL's path multiplies by the head's weight in tiles, past any module hook)
    _rows_seen_by_head(ours, our_rows)
    examples = _examples(tokenizer, data_dir / "train.jsonl", 4)
    collators = {
        "padded": DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id),
        "padding-free": DataCollatorForLanguageModeling(
            pad_token_id=tokenizer.pad_token_id, padding_free=True
        ),
    }
    for name, collate in collators.items():
        batch = {
            k: v
            for k, v in collate(examples).items()
            if k in ("input_ids", "attention_mask", "position_ids", "labels")
        }
        labelled = int((batch["labels"][:, 1:] != -100).sum())
        assert 0 < labelled < batch["labels"].numel() // 2, name  # most positions are prompt or padding
        our_rows.clear()
        expected, expected_grads = _run(trl_model, batch)
        got, grads = _run(ours, batch)
        assert sum(our_rows) == labelled, name  # only the labelled positions reach the vocabulary projection
        torch.testing.assert_close(got.loss, expected.loss, atol=1e-6, rtol=1e-5)
        for field in ("log_probs", "entropy"):
            torch.testing.assert_close(getattr(got, field), getattr(expected, field), atol=1e-5, rtol=1e-4)
        assert torch.equal(got.is_top1, expected.is_top1), name
        assert torch.equal(got.label_mask, expected.label_mask), name
        assert len(grads) == len(expected_grads)
        for mine, theirs in zip(grads, expected_grads, strict=True):
            torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=1e-4)


def test_other_calls_keep_the_models_own_forward(tiny_model_dir: Path) -> None:
    model, _ = load_policy(tiny_model_dir)
    reference, _ = load_policy(tiny_model_dir)
    add_fused_lm_head(model, outputs=OUTPUTS)
    label_head(model)
    ids = torch.tensor([[5, 6, 7, 8]])
    torch.testing.assert_close(model(input_ids=ids).logits, reference(input_ids=ids).logits)
    labels = torch.tensor([[-100, 6, 7, 8]])
    assert (
        abs(
            float(model(input_ids=ids, labels=labels).loss.detach())
            - float(reference(input_ids=ids, labels=labels).loss.detach())
        )
        < 1e-6
    )


class _HeadRows(TrainerCallback):
    def __init__(self) -> None:
        self.rows: list[int] = []

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        _rows_seen_by_head(kwargs["model"], self.rows)


def test_sft_runs_the_labelled_head(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    _, tokenizer = load_policy(tiny_model_dir)
    dataset, _ = build_dataset(tokenizer, data_dir / "train.jsonl", think=False, max_length=1536)
    labelled = sum(sum(mask) for mask in dataset["completion_mask"])
    heads = _HeadRows()
    config = SFTRunConfig(
        model=str(tiny_model_dir),
        data=str(data_dir / "train.jsonl"),
        out=str(tmp_path / "sft"),
        think=False,
        max_steps=1,
        batch_size=len(dataset),  # one step over every row: the head must see exactly the completion tokens
        save_steps=0,
        report_to="none",
    )
    run_sft(config, callbacks=[heads])
    assert heads.rows == [labelled]
