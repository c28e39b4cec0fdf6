"""Benches report each goal they check, met or missed (bench/bench_volume.py, bench_registry.py,
bench_etcd.py), ratios over rounds are formed as bench/rounds.py says, and the registry bench's memory
figure is kubekeeper and its children together (bench/memory.py)."""

from __future__ import annotations

import subprocess
import sys
import time

from bench import bench_etcd, bench_registry, bench_volume
from bench.memory import TreeSampler
from bench.rounds import order, ratios

MiB = 1 << 20


def _ratios(full: tuple[float, float], incremental: tuple[float, float]) -> dict[str, dict[str, float]]:
    return {phase: {"kubekeeper_vs_restic": r, "kubekeeper_vs_seed": s} for phase, (r, s) in
            (("full", full), ("incremental", incremental))}


def test_volume_goals_are_judged_in_both_phases() -> None:
    committed_run = _ratios((0.95, 0.44), (1.177, 0.961))  # bench/results/volume.json: met was true
    goals = bench_volume.judge(committed_run)
    assert [(g["phase"], g["met"]) for g in goals] == [("full", True), ("full", True), ("incremental", False), ("incremental", False)]
    assert not all(g["met"] for g in goals)
    assert all(g["met"] for g in bench_volume.judge(_ratios((1.0, 0.75), (1.0, 0.5))))  # at the limit is met
    assert [g["met"] for g in bench_volume.judge(_ratios((0.9, 0.7), (1.05, 0.76)))] == [True, True, False, False]
    assert [g["met"] for g in bench_volume.judge(_ratios((1.01, 0.7), (0.99, 0.74)))] == [False, True, True, True]


def test_registry_goals_are_judged() -> None:
    result = {"backup_seconds": {"ratio_kubekeeper_over_skopeo": 0.2, "ratio_kubekeeper_over_dedup_script": 0.31},
              "bytes_stored": {"kubekeeper_over_unique": 1.06},
              "memory_1gb_layer": {"peak_rss_mb_kubekeeper_with_restic": 150.0}}
    goals = bench_registry.judge(result)
    assert [(g["figure"], g["met"]) for g in goals] == [("backup_seconds.ratio_kubekeeper_over_skopeo", True),
                                                        ("backup_seconds.ratio_kubekeeper_over_dedup_script", False),
                                                        ("bytes_stored.kubekeeper_over_unique", False),
                                                        ("memory_1gb_layer.peak_rss_mb_kubekeeper_with_restic", True)]


def test_etcd_goal_and_aim_are_judged_on_the_median() -> None:
    table = {bench_etcd.BACKUP: {"best": 0.78, "median": 1.12}}  # a lucky round does not carry the verdict
    goals = bench_etcd.judge(table)
    assert [(g["kind"], g["met"]) for g in goals] == [("goal", False), ("aim", False)]
    table = {bench_etcd.BACKUP: {"best": 0.9, "median": 0.95}}
    assert [(g["kind"], g["met"]) for g in bench_etcd.judge(table)] == [("goal", True), ("aim", False)]


def test_each_volume_goal_counts_the_rounds_of_its_own_ratio() -> None:
    detail = {"kubekeeper_vs_restic": ratios([1.2, 1.1, 0.9], [1.0, 1.0, 1.0]),
              "kubekeeper_vs_seed": ratios([1.2, 1.1, 0.9], [2.0, 2.0, 2.0])}
    goals = bench_volume.judge({"full": {k: float(v["median"]) for k, v in detail.items()},  # type: ignore[arg-type]
                                "incremental": {k: float(v["median"]) for k, v in detail.items()}})  # type: ignore[arg-type]
    within = {g["figure"]: bench_volume.round_figures(detail[str(g["figure"])], float(g["max"]))["rounds_within"]  # type: ignore[arg-type]
              for g in goals if g["phase"] == "full"}
    assert within == {"kubekeeper_vs_restic": "1/3", "kubekeeper_vs_seed": "3/3"}


def test_ratios_best_is_best_over_best_and_median_is_of_paired_rounds() -> None:
    ours, theirs = [10.0, 4.0, 6.0], [5.0, 5.0, 3.0]  # per round: 2.0, 0.8, 2.0
    figures = ratios(ours, theirs)
    assert figures["per_round"] == [2.0, 0.8, 2.0]
    assert figures["median"] == 2.0 and figures["best"] == round(4.0 / 3.0, 3)


def test_each_side_goes_first_in_turn() -> None:
    assert [order(["a", "b", "c"], n)[0] for n in range(4)] == ["a", "b", "c", "a"]
    assert order(["peer", "kubekeeper"], 1) == ["kubekeeper", "peer"]


HOLD = "import sys, time; block = bytearray({size}); block[::4096] = b'x' * len(block[::4096]); time.sleep({seconds})"


def test_tree_sampler_adds_up_a_parent_and_its_child(tmp_path) -> None:
    """A parent holding 40 MiB starts a child holding 60 MiB: the tree's peak is about their sum, more
    than either process's own peak (which is all getrusage's largest-child figure could show)."""
    child = HOLD.format(size=60 * MiB, seconds=1.0)
    parent = (HOLD.format(size=40 * MiB, seconds=0) + f"; import subprocess; subprocess.run([sys.executable, '-c', {child!r}])")
    proc = subprocess.Popen([sys.executable, "-c", parent])
    with TreeSampler(proc.pid, interval=0.02) as memory:
        proc.wait(timeout=30)
        time.sleep(0.05)
    assert proc.returncode == 0
    largest_single = max(memory.peak_own_rss.values())  # both are "python3": the larger one's VmHWM
    assert largest_single >= 60 * MiB
    assert memory.peak_tree_rss >= 100 * MiB and memory.peak_tree_rss >= largest_single + 30 * MiB


def test_sampler_of_an_exited_process_is_empty() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    sampler = TreeSampler(proc.pid)
    sampler.sample()
    assert sampler.peak_tree_rss == 0 and sampler.peak_own_rss == {}


def test_etcd_replay_goal_is_judged_on_the_median() -> None:
    from bench import bench_etcd_replay

    def result(median: int) -> dict:
        return {"replay_events_per_second": {"kubekeeper": {"best": median * 2, "median": median}}}

    assert [g["met"] for g in bench_etcd_replay.judge(result(10_000))] == [True]  # at the limit is met
    assert [g["met"] for g in bench_etcd_replay.judge(result(9_999))] == [False]  # the best round does not count
