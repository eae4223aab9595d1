"""Plan mode: what a run needs, what the store holds (by the keys the run uses), and its cost at given rates."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cxrbench.app.run import format_plan, single_plan
from cxrbench.errors import ConfigError
from cxrbench.kit.clean_run import run_clean
from cxrbench.kit.planning import Load, training_key
from cxrbench.kit.pipeline import resolve_paths
from cxrbench.kit.throughput import Throughput, load_throughput, price
from tests.conftest import ROOT, compose_config


def test_a_training_is_held_in_the_plan_once_the_run_has_trained_it_under_the_same_key(tiny_overrides, tmp_path):
    cfg = compose_config(tiny_overrides + ["model=nasnet", "train.input_size=32"])
    before = single_plan(cfg, root=ROOT)
    assert [w.exists for w in before.work] == [False]
    record = run_clean(cfg, ROOT, log=lambda *_: None)
    after = single_plan(cfg, root=ROOT)
    assert [w.exists for w in after.work] == [True]
    key, directory = training_key(cfg, resolve_paths(cfg, ROOT))
    assert (directory / "done.json").is_file() and key in record["training"]["checkpoint"]
    # Another seed is another training: the plan must not call it held.
    other = compose_config(tiny_overrides + ["model=nasnet", "train.input_size=32", "seed=1"])
    assert [w.exists for w in single_plan(other, root=ROOT).work] == [False]


def test_the_plan_prices_what_is_to_do_at_the_stated_rates_and_scales_other_sizes_by_pixels(tiny_overrides, tmp_path):
    cfg = compose_config(tiny_overrides + ["model=nasnet", "train.input_size=32", "train.eval_every=1"])
    plan = single_plan(cfg, root=ROOT)
    (load,) = plan.work[0].loads
    # 2 steps x 4 images forward-and-backward; forward: 2 validations of 12 images, before each the
    # BatchNorm recalibration's batches of 4, and the 10 test images.
    recalibration = 2 * cfg.train.bn_recalibration_batches * 4
    assert (load.network, load.backward, load.forward) == ("nasnet@32", 8, 2 * 12 + recalibration + 10)
    rates = Throughput("stated GPU", {"nasnet@32": {"backward": 4.0, "forward": 17.0}}, "stated")
    seconds, _ = price(plan.work[0].loads, rates)
    assert seconds == pytest.approx(8 / 4 + load.forward / 17)
    scaled, notes = price([Load("nasnet@64", backward=16)], rates)
    assert scaled == pytest.approx(16 / (4.0 / 4)) and notes == {"nasnet@64 backward scaled from nasnet@32"}
    text = format_plan(plan, rates)
    assert "[to do]" in text and f"about {seconds:.0f} s on stated GPU" in text


def test_a_rate_file_in_the_wrong_shape_is_one_error_naming_the_format(tmp_path):
    bad = tmp_path / "rates.json"
    bad.write_text(json.dumps({"device": "x", "networks": {"nasnet": {"backward": 3}}}))
    with pytest.raises(ConfigError, match="'<model>@<size>'"):
        load_throughput(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_throughput(Path(tmp_path / "missing.json"))
