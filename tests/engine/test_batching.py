"""Batch plans and device-resident batches."""
import numpy as np
import torch
from hypothesis import given, settings, strategies as st

from engine.batching import ResidentSplit, bucket_length, collate_texts, collate_tokens, plan_batches


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 60), min_size=1, max_size=300), st.integers(1, 17), st.integers(0, 5))
def test_plan_covers_every_example_once_and_is_a_function_of_seed_and_epoch(lengths, bs, epoch):
    lengths = np.array(lengths)
    plan = plan_batches(lengths, bs, seed=3, epoch=epoch)
    flat = np.concatenate(plan)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert all(1 <= len(b) <= bs for b in plan)
    again = plan_batches(lengths, bs, seed=3, epoch=epoch)
    assert all((a == b).all() for a, b in zip(plan, again))


def test_length_bucketing_cuts_padding_against_random_batches():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 120, size=2000)
    plan = plan_batches(lengths, 32, seed=0, epoch=0)
    padded = sum(len(b) * lengths[b].max() for b in plan)
    random_batches = np.array_split(rng.permutation(2000), 2000 // 32)
    padded_random = sum(len(b) * lengths[b].max() for b in random_batches)
    assert padded < 0.7 * padded_random
    assert padded / lengths.sum() < 1.1  # under 10 % padding


def test_bucket_length_rounds_up_to_fixed_shapes_on_gpu_and_is_exact_on_cpu():
    assert bucket_length(37, None, 128) == 37
    assert bucket_length(37, 32, 128) == 64
    assert bucket_length(127, 32, 128) == 128
    assert bucket_length(64, 32, 512) == 64


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=40), st.sampled_from([None, 8, 32]),
       st.integers(1, 9))
def test_resident_batches_equal_host_collation(lengths, multiple, bs):
    rng = np.random.default_rng(len(lengths))
    feats = [{"input_ids": rng.integers(1, 99, n).tolist(), "labels": rng.integers(-100, 5, n).tolist()}
             for n in lengths]
    res = ResidentSplit(feats, pad_id=0, device=torch.device("cpu"), multiple=multiple, cap=64)
    for idx in plan_batches(np.array(lengths), bs, seed=0, epoch=0):
        got = res.batch(idx)
        want = collate_tokens(feats, idx, pad_id=0, multiple=multiple, cap=64)
        for key in ("input_ids", "attention_mask", "labels"):
            assert torch.equal(got[key], want[key]), key


def test_resident_text_batches_keep_label_vectors():
    feats = [{"input_ids": [1, 2, 3], "labels": [1.0, 0.0]}, {"input_ids": [4], "labels": [0.0, 1.0]}]
    res = ResidentSplit(feats, pad_id=0, device=torch.device("cpu"), multiple=None, cap=16,
                        label_shape="texts", multi_label=True)
    got = res.batch(np.array([1, 0]))
    want = collate_texts(feats, np.array([1, 0]), pad_id=0, multi_label=True)
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_chunks_of_one_batch_give_plain_shuffled_batches_with_more_padding():
    rng = np.random.default_rng(1)
    lengths = rng.integers(5, 120, size=1000)
    plain = plan_batches(lengths, 32, seed=0, epoch=0, chunk_batches=1)
    bucketed = plan_batches(lengths, 32, seed=0, epoch=0)
    pad = lambda plan: sum(len(b) * lengths[b].max() for b in plan)
    assert sorted(np.concatenate(plain).tolist()) == list(range(1000))
    assert pad(bucketed) < 0.7 * pad(plain)


def test_resident_split_keeps_the_segments_of_text_pairs():
    """Training gathers its batches from ResidentSplit: text pairs keep their token_type_ids
    there, as collate_texts gives them at evaluation (else training and evaluation would
    see different inputs)."""
    import torch

    from engine.batching import ResidentSplit, collate_texts

    feats = [{"input_ids": [1, 5, 2, 7, 8, 2], "token_type_ids": [0, 0, 0, 1, 1, 1], "labels": 1},
             {"input_ids": [1, 6, 6, 2, 9, 2, 9, 2], "token_type_ids": [0, 0, 0, 0, 1, 1, 1, 1],
              "labels": 0}]
    resident = ResidentSplit(feats, pad_id=0, device=torch.device("cpu"), multiple=4, cap=16,
                             label_shape="texts")
    got = resident.batch(np.array([1, 0]))
    want = collate_texts(feats, np.array([1, 0]), pad_id=0, multi_label=False)
    assert got["input_ids"].shape[1] == 8
    for key in ("input_ids", "attention_mask", "token_type_ids", "labels"):
        assert torch.equal(got[key], want[key]), key
    single = ResidentSplit([{"input_ids": [1, 2], "labels": 0}], pad_id=0,
                           device=torch.device("cpu"), multiple=None, cap=8, label_shape="texts")
    assert "token_type_ids" not in single.batch(np.array([0]))
