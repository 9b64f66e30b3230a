"""The embedding pool (issue 15): embeds from many threads share model calls, and each caller gets exactly the
rows its own call would have got; a failing call fails every caller of its batch, never hangs one."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from facesearch.models.batching import BatchingRecognizer


class SlowModel:
    """A recognizer that takes a while per call and remembers each call's size."""

    name = "slow"

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[int] = []
        self.fail = fail

    def embed(self, chips: Any) -> Any:
        self.calls.append(len(chips))
        time.sleep(0.05)
        if self.fail:
            raise RuntimeError("the model failed")
        return chips.reshape(len(chips), -1)[:, :4].astype(np.float32) + 0.5


def _together(pooled: BatchingRecognizer, requests: list[Any]) -> list[Any]:
    results: list[Any] = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def call(i: int) -> None:
        start.wait()
        try:
            results[i] = pooled.embed(requests[i])
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    return results


def test_concurrent_embeds_share_calls_and_each_gets_its_own_rows() -> None:
    model = SlowModel()
    pooled = BatchingRecognizer(model)
    rng = np.random.default_rng(0)
    requests = [rng.integers(0, 255, (int(rng.integers(1, 7)), 4, 4, 3), dtype=np.uint8) for _ in range(12)]
    results = _together(pooled, requests)
    for chips, got in zip(requests, results, strict=True):
        assert np.array_equal(got, model.embed(chips))
    assert sum(model.calls[: pooled.stats.calls]) == sum(len(r) for r in requests)
    assert pooled.stats.calls < len(requests) and pooled.stats.requests == len(requests)
    assert pooled.stats.largest > max(len(r) for r in requests)  # some call held several cameras' chips
    assert pooled.name == "slow"  # everything else is the wrapped recognizer's


def test_a_batch_never_passes_its_limit() -> None:
    model = SlowModel()
    pooled = BatchingRecognizer(model, max_batch=8)
    _together(pooled, [np.zeros((5, 2, 2, 3), np.uint8) for _ in range(6)])
    assert max(model.calls) <= 8 and sum(model.calls) == 30


def test_a_failing_call_fails_every_caller_of_its_batch_and_the_pool_goes_on() -> None:
    model = SlowModel(fail=True)
    pooled = BatchingRecognizer(model)
    results = _together(pooled, [np.zeros((2, 2, 2, 3), np.uint8) for _ in range(5)])
    assert all(isinstance(r, RuntimeError) for r in results)
    model.fail = False
    assert pooled.embed(np.ones((1, 2, 2, 3), np.uint8)).shape == (1, 4)


def test_the_real_recognizers_pooled_give_the_same_embeddings(engine: Any) -> None:
    rng = np.random.default_rng(1)
    for recognizer in engine.recognizers:
        size = recognizer.spec.input_size
        requests = [rng.integers(0, 255, (3, size, size, 3), dtype=np.uint8) for _ in range(4)]
        pooled = BatchingRecognizer(recognizer)
        for chips, got in zip(requests, _together(pooled, requests), strict=True):
            assert got == pytest.approx(recognizer.embed(chips), abs=1e-5)
