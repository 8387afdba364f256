"""The cores a training uses: the usable ones (affinity, cgroup quota) minus other work that is sustained."""

import os

import pytest

from edgetrain_trainer.config import TrainerConfig
from edgetrain_trainer.errors import InvalidArgumentError
from edgetrain_trainer.training.cpu import (
    busy_cores,
    cgroup_cpu_quota,
    cores_to_use,
    free_cores,
    usable_cores,
)

BEFORE = "cpu  1000 0 500 8000 100 0 0 0 0 0"


def test_busy_cores_counts_everything_but_idle_and_iowait():
    # 200 ticks elapse: 150 user + 50 idle → three quarters of the machine busy
    after = "cpu  1150 0 500 8050 100 0 0 0 0 0"
    assert busy_cores(BEFORE, after, cores=4) == pytest.approx(3.0)


def test_an_idle_machine_has_no_busy_cores():
    after = "cpu  1000 0 500 8400 100 0 0 0 0 0"
    assert busy_cores(BEFORE, after, cores=2) == 0.0
    assert busy_cores(BEFORE, BEFORE, cores=2) == 0.0  # no ticks elapsed


def test_a_line_that_is_not_the_aggregate_cpu_line_is_refused():
    with pytest.raises(ValueError, match="aggregate cpu line"):
        busy_cores("cpu0 1 2 3 4 5 6 7 8", BEFORE, cores=2)


def test_other_work_counts_only_when_it_is_busy_now_and_over_the_last_minute():
    assert cores_to_use(usable=2, cores=2, busy_now=1.0, load_average=1.0) == 1  # sustained: its core
    assert cores_to_use(usable=2, cores=2, busy_now=1.0, load_average=0.1) == 2  # a burst at the start
    assert cores_to_use(usable=2, cores=2, busy_now=0.0, load_average=1.2) == 2  # a run that just ended
    assert cores_to_use(usable=2, cores=2, busy_now=2.0, load_average=5.0) == 1  # never fewer than one


def test_a_container_quota_caps_the_cores_of_a_large_host():
    assert cores_to_use(usable=4, cores=64, busy_now=10.0, load_average=12.0) == 4
    assert cores_to_use(usable=4, cores=64, busy_now=62.0, load_average=62.0) == 2


@pytest.mark.parametrize(
    "files, quota",
    [
        ({"cpu.max": "200000 100000\n"}, 2.0),  # cgroup v2, docker --cpus 2
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),  # no limit
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),  # cgroup v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),  # no cgroup files at all
    ],
)
def test_cgroup_cpu_quota_reads_v2_and_v1(tmp_path, files, quota):
    write(tmp_path, files)
    assert cgroup_cpu_quota(tmp_path, proc_cgroup=tmp_path / "absent") == quota


SYSTEMD_UNIT = "system.slice/edgetrain.service"
V1_QUOTA = {"cpu/x/cpu.cfs_quota_us": "250000", "cpu/x/cpu.cfs_period_us": "100000"}


@pytest.mark.parametrize(
    "proc_cgroup, files, quota",
    [
        # a systemd unit's CPUQuota=150% on a host without a cgroup namespace: the limit is at its own path
        (f"0::/{SYSTEMD_UNIT}\n", {f"{SYSTEMD_UNIT}/cpu.max": "150000 100000"}, 1.5),
        # the tightest of the cgroup and its ancestors wins
        ("0::/a/b\n", {"cpu.max": "max 1", "a/cpu.max": "100 100", "a/b/cpu.max": "300 100"}, 1.0),
        # cgroup v1 (hybrid hierarchy): the cpu controller's line names the path under its own mount
        ("4:memory:/x\n3:cpu,cpuacct:/x\n0::/\n", V1_QUOTA, 2.5),
        # Docker without a cgroup namespace: the host's path is not there inside, the mount is the container's
        ("0::/docker/0123abcd\n", {"cpu.max": "200000 100000"}, 2.0),
        ("garbage\n0::/\n", {"cpu.max": "max 100000"}, None),
    ],
)
def test_cgroup_cpu_quota_follows_the_process_cgroup_path(tmp_path, proc_cgroup, files, quota):
    write(tmp_path, {**files, "self-cgroup": proc_cgroup})
    assert cgroup_cpu_quota(tmp_path, proc_cgroup=tmp_path / "self-cgroup") == quota


def test_usable_cores_round_a_fractional_quota_up_and_never_exceed_the_affinity(tmp_path):
    affinity = len(os.sched_getaffinity(0))
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert usable_cores(tmp_path, proc_cgroup=tmp_path / "absent") == min(affinity, 2)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert usable_cores(tmp_path, proc_cgroup=tmp_path / "absent") == affinity


def write(root, files):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux /proc")
def test_free_cores_on_this_machine_is_between_one_and_the_usable_cores():
    assert 1 <= free_cores(window_seconds=0.1) <= usable_cores()


def test_max_threads_caps_the_automatic_count_and_threads_overrides_both():
    from edgetrain_trainer.train import configure_runtime

    assert configure_runtime(0, seed=0, max_threads=1) == 1
    assert configure_runtime(3, seed=0, max_threads=1) == 3


@pytest.mark.parametrize("key", ["threads", "max_threads"])
def test_a_negative_thread_count_is_refused(key):
    with pytest.raises(InvalidArgumentError, match=f"{key}: Input should be greater than or equal to 0"):
        TrainerConfig.from_overrides({key: -1})
