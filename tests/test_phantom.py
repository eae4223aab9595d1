"""The embedded phantom: deterministic, anatomically labelled, prevalence as in ChestX-ray14."""
import numpy as np
import pytest

from cxrbench.data.phantom_source import PhantomDataConfig
from cxrbench.data.labels import NIH_FINDING_PREVALENCE, NIH_LABELS
from cxrbench.data.phantom import PHANTOM_FINDINGS, PhantomParams, case_rng, generate, sample_case
from cxrbench.data.phantom_source import PhantomSource


def test_same_seed_and_index_give_identical_images():
    a, b = generate(3, 7, 64), generate(3, 7, 64)
    assert np.array_equal(a.image, b.image) and a.findings == b.findings
    assert not np.array_equal(a.image, generate(3, 8, 64).image)
    assert not np.array_equal(a.image, generate(4, 7, 64).image)


@pytest.mark.parametrize("size", [40, 96, 160])
def test_any_size_in_unit_range(size):
    sample = generate(0, 1, size)
    assert sample.image.shape == (size, size) and sample.image.dtype == np.float32
    assert 0.0 <= sample.image.min() and sample.image.max() <= 1.0


def test_labels_do_not_depend_on_resolution():
    assert generate(1, 5, 48).findings == generate(1, 5, 128).findings


def test_prevalence_matches_chestxray14():
    params = PhantomParams()
    targets = [sample_case(case_rng(0, i), params).target for i in range(3000)]
    assert abs(np.mean(targets) - NIH_FINDING_PREVALENCE) < 0.03  # 3000 draws: sd ~ 0.009


def test_multilabel_vector_names_real_labels_and_binary_view_agrees():
    cases = [sample_case(case_rng(2, i), PhantomParams(), positive=True) for i in range(400)]
    seen = {name for c in cases for name in c.findings}
    assert seen == set(PHANTOM_FINDINGS)  # every finding kind occurs
    assert any(len(c.findings) > 1 for c in cases)  # and some co-occur
    for c in cases[:50]:
        vec = c.label_vector()
        assert vec.shape == (len(NIH_LABELS),) and c.target == 1
        assert {NIH_LABELS[i] for i in np.flatnonzero(vec)} == set(c.findings)
    negative = sample_case(case_rng(2, 0), PhantomParams(), positive=False)
    assert negative.target == 0 and negative.label_vector().sum() == 0


def test_lungs_are_darker_than_mediastinum_and_findings_add_opacity():
    img = generate(0, 0, 128, positive=False).image
    lung = img[50:70, 20:35].mean()      # patient's right mid-lung
    spine = img[50:70, 60:68].mean()     # midline
    assert spine > lung + 0.1
    params = PhantomParams()
    # A forced effusion opacifies the base of a lung compared with the same anatomy without lesion.
    for i in range(50):
        case = sample_case(case_rng(9, i), params, positive=True)
        if case.findings == ["Effusion"]:
            from cxrbench.data.phantom import render_case
            with_fluid = render_case(case, 96, params, case_rng(99, 0))
            case.lesions = []
            without = render_case(case, 96, params, case_rng(99, 0))
            assert (with_fluid - without).max() > 0.15
            break
    else:
        pytest.fail("no single-effusion case drawn")


def test_source_test_split_has_the_papers_composition():
    source = PhantomSource(PhantomDataConfig(n_train=10, n_val=5, n_test=200, test_positives=93))
    split = source.split()
    assert split.sizes() == {"train": 10, "val": 5, "test": 200}
    table = source.table()
    assert int(table.loc[list(split.test), "target"].sum()) == 93
    img = source.loader(list(split.test), 48)(0)
    assert img.dtype == np.uint8 and img.shape == (48, 48)


def test_nih_label_sets_follow_chestxray14s_joint_distribution():
    from cxrbench.data.label_sets import nih_finding_sets

    sets = nih_finding_sets()
    assert sets.images == 51_759 and len(sets.sets) == len(set(sets.sets))
    assert abs(sets.probabilities.sum() - 1) < 1e-12 and all(s == tuple(sorted(s)) and s for s in sets.sets)
    freq = dict(zip(sets.sets, sets.probabilities))
    assert freq[("Infiltration",)] * 51_759 == pytest.approx(9_547)  # the commonest set of the CSV
    assert freq[("Effusion", "Infiltration")] * 51_759 == pytest.approx(1_603 + 1)  # one row lists them reversed
    params = PhantomParams(label_sets="nih")
    cases = [sample_case(case_rng(4, i), params, positive=True) for i in range(2000)]
    drawn = np.array([c.label_vector() for c in cases])
    # Per-label frequency among cases with a finding, against the CSV's (binomial sd <= 0.011 for 2000 draws).
    marginal = {name: sum(p for s, p in freq.items() if name in s) for name in NIH_LABELS}
    for j, name in enumerate(NIH_LABELS):
        assert abs(drawn[:, j].mean() - marginal[name]) < 0.04, name
    pair = drawn[:, NIH_LABELS.index("Effusion")] & drawn[:, NIH_LABELS.index("Infiltration")]
    assert abs(pair.mean() - sum(p for s, p in freq.items() if {"Effusion", "Infiltration"} <= set(s))) < 0.03
    assert sample_case(case_rng(4, 0), params, positive=False).findings == []


@pytest.mark.parametrize("name", NIH_LABELS)
def test_every_finding_of_the_nih_label_sets_leaves_a_visible_sign(name):
    from cxrbench.data.phantom import EXTRA_FINDINGS, render_case
    from cxrbench.data.phantom_signs import extra_lesion_params

    params = PhantomParams(lesion_contrast=1.5, label_sets="nih")
    case = sample_case(case_rng(5, 1), params, positive=False)
    without = render_case(case, 96, params, case_rng(5, 2))
    lesion = {"kind": name, "side": -1.0, "u": 0.5, "v": 0.55, "seed": 3, "r": 0.08, "level": 0.35, "depth": 0.35}
    if name == "Cardiomegaly":
        case.anatomy["ctr"] = 0.64
    if name in EXTRA_FINDINGS:
        extra_lesion_params(name, lesion, case.anatomy, np.random.default_rng(0))
    case.findings, case.lesions = [name], [lesion]
    with_sign = render_case(case, 96, params, case_rng(5, 2))
    changed = np.abs(with_sign - without) > 0.05  # beyond the quantum noise (sd 0.02): visible
    assert changed.sum() >= 15, f"{name} changes {changed.sum()} pixels of 96 x 96"


def test_default_label_sets_keep_the_binary_phantom_and_its_data_description():
    default, explicit = PhantomDataConfig(), PhantomDataConfig(label_sets="phantom")
    assert PhantomSource(default).description() == PhantomSource(explicit).description()
    assert "label_sets" not in PhantomSource(default).description()  # checkpoint keys from before stay valid
    assert PhantomSource(PhantomDataConfig(label_sets="nih")).description()["label_sets"] == "nih"
    a = sample_case(case_rng(0, 3), PhantomParams(), positive=True)
    assert set(a.findings) <= set(PHANTOM_FINDINGS)
