"""A KV cache that grows in place: transformers' `DynamicLayer` with room kept ahead of its length.

`DynamicLayer.update` concatenates every new key and value onto the old ones, so each decode step allocates and
copies the whole cache of every layer. `GrowingLayer` keeps a buffer with spare positions and writes each step's
keys and values into it; the cache it shows the model (`keys`, `values`) is a view of the filled part, holding the
very values the concatenation would hold, so attention sees the same numbers and the tokens do not change
(tests/test_kv_cache.py). On SmolLM2-135M (30 layers, 16 streams of about 520 prompt tokens, 96 new tokens, one
thread) it took sampling from 45.7 to 52.4 tokens/s, together with a prefill that keeps only the last position's
logits (docs/benchmarks.md, "SmolLM2: the cache, LoRA on the top layers, bfloat16").

Anything that replaces `keys`/`values` by other means (`batch_select_indices`, `crop`, `batch_repeat_interleave`,
`reset`) leaves them as transformers sets them; the next `update` notices that they no longer view the buffer and
takes them into a new one, one copy, as the concatenation would have made. Layers of other kinds (sliding windows,
linear attention) are left as transformers builds them.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache, PreTrainedModel
from transformers.cache_utils import DynamicLayer


def _headroom(length: int) -> int:
    """Spare positions kept after `length` when a buffer is (re)allocated: half as many again, at least 64, so a
    decode of n tokens copies the cache O(log n) times instead of n.

    >>> _headroom(10), _headroom(600)
    (64, 300)
    """
    return max(64, length // 2)


class GrowingLayer(DynamicLayer):
    """A `DynamicLayer` whose keys and values are views of buffers with spare positions."""

    def __init__(self) -> None:
        super().__init__()
        self._key_buffer: torch.Tensor | None = None
        self._value_buffer: torch.Tensor | None = None

    def _views_buffer(self) -> bool:
        buffer = self._key_buffer
        keys = self.keys
        return (
            buffer is not None
            and keys is not None
            and keys.numel() > 0
            and keys.data_ptr() == buffer.data_ptr()
            and keys.shape[:2] == buffer.shape[:2]
            and keys.stride() == buffer.stride()
        )

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: object, **kwargs: object
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        if self.keys is None or self.keys.numel() == 0:
            length = 0
            old_keys, old_values = None, None
        else:
            length = self.keys.shape[-2]
            old_keys, old_values = self.keys, self.values
        needed = length + key_states.shape[-2]
        if not self._views_buffer() or self._key_buffer is None or needed > self._key_buffer.shape[-2]:
            self._key_buffer = self._allocate(key_states, needed, old_keys)
            self._value_buffer = self._allocate(value_states, needed, old_values)
        assert self._key_buffer is not None and self._value_buffer is not None
        self._key_buffer[:, :, length:needed] = key_states
        self._value_buffer[:, :, length:needed] = value_states
        self.keys = self._key_buffer[:, :, :needed]
        self.values = self._value_buffer[:, :, :needed]
        return self.keys, self.values

    @staticmethod
    def _allocate(new: torch.Tensor, needed: int, old: torch.Tensor | None) -> torch.Tensor:
        batch, heads, _, width = new.shape
        buffer = new.new_empty((batch, heads, needed + _headroom(needed), width))
        if old is not None:
            buffer[:, :, : old.shape[-2]] = old
        return buffer

    def reset(self) -> None:
        self._key_buffer = self._value_buffer = None
        super().reset()


def growing_cache(model: PreTrainedModel) -> DynamicCache:
    """A `DynamicCache` for `model` whose plain full-attention layers grow in place (`GrowingLayer`)."""
    cache = DynamicCache(config=model.config)
    cache.layers = [GrowingLayer() if type(layer) is DynamicLayer else layer for layer in cache.layers]
    if cache.layer_class_to_replicate is DynamicLayer:  # a config without layer types: layers made lazily
        cache.layer_class_to_replicate = GrowingLayer
    return cache
