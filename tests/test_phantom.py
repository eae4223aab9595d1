"""The embedded phantom: deterministic, anatomically labelled, prevalence as in ChestX-ray14."""
import numpy as np
import pytest

from cxrbench.config import PhantomDataConfig
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
