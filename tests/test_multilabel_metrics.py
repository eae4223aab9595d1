"""Multi-label metrics and the co-occurrence risk weights on hand-computed cases and the real NIH metadata."""
import math

import numpy as np
import pytest
import torch

from cxrbench.data.cooccurrence import cooccurrence, inverse_cooccurrence, risk, risk_targets
from cxrbench.data.labels import NIH_LABELS
from cxrbench.data.nih import bundled_metadata_path, load_metadata
from cxrbench.attacks.multilabel import ordinal_loss
from cxrbench.errors import DataError
from cxrbench.evaluation.multilabel import (frequency_prior, k_accuracy, k_accuracy_paper, k_consistency, macro_auc,
                                            mlacc, output_bce, output_mse, per_label_auc)
from cxrbench.kit.multilabel_clean import prior_metrics

# Four labels, three images. Image 0: findings {0, 2}; image 1: {3}; image 2: none ("No Finding").
TRUTH = np.array([[1, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]])
PROBS = np.array([[0.9, 0.8, 0.1, 0.3],    # ranking 0, 1, 3, 2
                  [0.2, 0.1, 0.6, 0.5],    # ranking 2, 3, 0, 1
                  [0.5, 0.4, 0.3, 0.2]])


def test_k_accuracy_by_hand():
    one = k_accuracy(PROBS, TRUTH, 1)
    # image 0: top-1 {0} ∩ {0, 2} = 1 of min(1, 2) -> 1; image 1: {2} ∩ {3} = 0 -> 0; image 2 left out
    assert one.per_image.tolist() == [1.0, 0.0] and one.value == 0.5
    assert (one.images, one.without_finding) == (2, 1)
    three = k_accuracy(PROBS, TRUTH, 3)
    # image 0: {0, 1, 3} ∩ {0, 2} = 1 of min(3, 2) -> 0.5; image 1: {2, 3, 0} ∩ {3} = 1 of 1 -> 1
    assert three.per_image.tolist() == [0.5, 1.0] and three.value == 0.75
    perfect = k_accuracy(TRUTH + 0.01 * np.arange(4), TRUTH, 3)
    assert perfect.value == 1.0  # ranking every finding first scores 1 whatever k


def test_k_accuracy_as_definition_1_reads_by_hand():
    # top_k of the 0/1 truth, ties by label order: image 0 {0, 2} -> top-1 [0], top-3 [0, 2, 1];
    # image 1 {3} -> [3], [3, 0, 1]; image 2 (no finding) -> [0], [0, 1, 2]. Every image counts.
    # k = 1: {0} vs [0] -> 1; {2} vs [3] -> 0; {0} vs [0] -> 1 (the "finding" 0 the image does not have)
    assert k_accuracy_paper(PROBS, TRUTH, 1) == pytest.approx(2 / 3)
    # k = 3: {0, 1, 3} vs {0, 1, 2} -> 2/3; {2, 3, 0} vs {3, 0, 1} -> 2/3; {0, 1, 2} vs {0, 1, 2} -> 1
    assert k_accuracy_paper(PROBS, TRUTH, 3) == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    # Ours on the same outputs differs (0.5 and 0.75): over images with a finding, divided by min(k, |P|).
    assert (k_accuracy(PROBS, TRUTH, 1).value, k_accuracy(PROBS, TRUTH, 3).value) == (0.5, 0.75)
    # With k findings or more both agree on an image: every finding ranked first scores 1 in both.
    full = np.array([[1, 1, 1, 0]])
    assert k_accuracy_paper(np.array([[0.9, 0.8, 0.7, 0.1]]), full, 3) == k_accuracy(
        np.array([[0.9, 0.8, 0.7, 0.1]]), full, 3).value == 1.0


def test_frequency_prior_is_counted_on_the_training_labels():
    train = np.array([[1, 0, 0, 1], [1, 0, 0, 0], [0, 0, 1, 1], [1, 0, 0, 0]])
    frequency = frequency_prior(train)
    assert frequency.tolist() == [0.75, 0.0, 0.25, 0.5]
    prior = prior_metrics(frequency, TRUTH)
    # One ranking for every image: 0, 3, 2, 1. Image 0 {0, 2}: top-1 hits (1), top-3 {0, 3, 2} holds both (1);
    # image 1 {3}: top-1 misses (0), top-3 holds it (1) -> ours 0.5 and 1.0 over the 2 images with a finding
    assert prior["k_accuracy"] == {"1": 0.5, "3": 1.0}
    assert prior["k_accuracy_paper"]["1"] == pytest.approx(2 / 3)  # image 2's tie-filled top-1 is label 0
    assert prior["macro_auc"] == 0.5 and prior["frequency"][NIH_LABELS[0]] == 0.75  # constant scores rank nothing
    assert prior["ranking"][:2] == [NIH_LABELS[0], NIH_LABELS[3]]
    with pytest.raises(DataError, match="training label matrix"):
        frequency_prior(np.zeros((0, 4)))


def test_k_consistency_by_hand():
    clean = PROBS
    adv = np.array([[0.1, 0.9, 0.2, 0.8],   # clean top-1 0 -> adversarial ranking 1, 3, 2, 0
                    [0.1, 0.2, 0.4, 0.9],   # clean top-1 2 -> ranking 3, 2, 1, 0
                    [0.5, 0.6, 0.3, 0.2]])  # clean top-1 0 -> ranking 1, 0, 2, 3
    assert k_consistency(clean, adv, 1) == 0.0
    assert k_consistency(clean, adv, 2) == pytest.approx(2 / 3)
    assert k_consistency(clean, adv, 4) == 1.0


def test_auc_per_label_and_macro_by_hand():
    truth = np.array([[1, 0], [0, 0], [1, 0], [0, 1]])
    probs = np.array([[0.9, 0.1], [0.2, 0.3], [0.4, 0.2], [0.5, 0.8]])
    aucs = per_label_auc(probs, truth)
    # label 0: positives 0.9, 0.4 vs negatives 0.2, 0.5 -> pairs won 2 + 1 of 4 = 0.75; label 1: 0.8 beats all -> 1
    assert aucs.tolist() == [0.75, 1.0] and macro_auc(probs, truth) == 0.875
    single = per_label_auc(probs, np.array([[1, 0], [1, 0], [1, 1], [1, 0]]))
    assert math.isnan(single[0])  # one class only: undefined, left out of the mean
    assert single[1] == pytest.approx(1 / 3)  # positive 0.2 beats one of the negatives 0.1, 0.3, 0.8


def test_output_mse_bce_mlacc_by_hand():
    clean, adv = np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]])
    assert output_mse(adv, clean) == 0.25
    assert output_bce(adv, clean) == pytest.approx(math.log(2))
    assert output_bce(clean, clean) < 1e-6
    predicted = np.array([[1, 1, 0], [0, 0, 0], [0, 1, 0]])
    reference = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 0]])
    assert mlacc(predicted, reference) == pytest.approx((1 / 3 + 1 + 0) / 3)


def test_ordinal_loss_by_hand_and_its_gradient_orders_the_logits():
    targets = torch.tensor([[1.0, 0.5, 0.0]])
    tied = ordinal_loss(torch.zeros(1, 3), targets)
    assert tied.item() == pytest.approx(math.log(2))  # three pairs, each softplus(0)
    ordered = ordinal_loss(torch.tensor([[10.0, 0.0, -10.0]]), targets)
    reversed_ = ordinal_loss(torch.tensor([[-10.0, 0.0, 10.0]]), targets)
    assert ordered.item() < 1e-3 < 9 < reversed_.item()
    logits = torch.zeros(1, 3, requires_grad=True)
    ordinal_loss(logits, targets).sum().backward()
    assert logits.grad[0, 0] < 0 < logits.grad[0, 2]  # descent raises the top target's logit
    assert ordinal_loss(torch.zeros(1, 3), torch.ones(1, 3)).item() == 0.0  # no ordered pair


def test_inverse_cooccurrence_and_risk_by_hand():
    labels = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1], [0, 0, 0]])
    counts = cooccurrence(labels)
    assert counts.tolist() == [[3, 2, 1], [2, 2, 0], [1, 0, 1]]
    inverse = inverse_cooccurrence(counts)
    # row 0: partners 1 (2 times, the most) and 2 (once) -> 1 - 2/2 = 0 and 1 - 1/2 = 0.5
    assert inverse.tolist() == [[0.0, 0.0, 0.5], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    top, targets = risk_targets(np.array([[0.2, 0.9, 0.1]]), inverse)
    assert top.tolist() == [1] and targets.tolist() == [[0.0, 0.0, 1.0]]
    assert risk(np.array([[0.3, 0.1, 0.8]]), np.array([[0.0, 0.5, 1.0]])).tolist() == [pytest.approx(0.85 / 1.5)]  # (0.1 * 0.5 + 0.8 * 1) / 1.5
    with pytest.raises(DataError, match="0/1 label matrix"):
        cooccurrence(np.array([[0.5, 1.0]]))


def test_cooccurrence_of_the_real_nih_metadata_has_its_known_marginals():
    meta = load_metadata(csv_path=bundled_metadata_path())
    assert len(meta) == 112_120
    labels = meta[list(NIH_LABELS)].to_numpy()
    counts = cooccurrence(labels)
    assert np.array_equal(counts, counts.T)
    # Per-finding image counts of ChestX-ray14 (Data_Entry_2017, as NIH and Wang et al. 2017 report them).
    known = {"Infiltration": 19_894, "Effusion": 13_317, "Atelectasis": 11_559, "Nodule": 6_331, "Mass": 5_782,
             "Pneumothorax": 5_302, "Consolidation": 4_667, "Pleural_Thickening": 3_385, "Cardiomegaly": 2_776,
             "Emphysema": 2_516, "Edema": 2_303, "Fibrosis": 1_686, "Pneumonia": 1_431, "Hernia": 227}
    assert {name: int(counts[i, i]) for i, name in enumerate(NIH_LABELS)} == known
    no_finding = (meta["finding_labels"] == "No Finding").to_numpy()
    assert no_finding.sum() == 60_361 and not labels[no_finding].any()
    assert np.array_equal(cooccurrence(labels[~no_finding]), counts)  # "No Finding" rows add no pair
    # One pair counted independently from the raw strings.
    both = meta["finding_labels"].str.contains("Atelectasis") & meta["finding_labels"].str.contains("Effusion")
    a, e = NIH_LABELS.index("Atelectasis"), NIH_LABELS.index("Effusion")
    assert counts[a, e] == both.sum() > 0
    inverse = inverse_cooccurrence(counts)
    assert np.all((inverse >= 0) & (inverse <= 1)) and np.all(np.diag(inverse) == 0)
    i, p = NIH_LABELS.index("Infiltration"), NIH_LABELS.index("Pneumothorax")
    assert inverse[i, p] > inverse[i, a]  # their example: Infiltration-Pneumothorax rare, -Atelectasis common
