"""L∞ PGD on multi-label outputs through Foolbox 3: criteria, losses and one run for many step budgets.

Foolbox 3's ``LinfPGD`` steps along the sign of the gradient of ``get_loss_fn`` (ascent for a
``Misclassification`` criterion, descent for one with ``target_classes``). Here the loss compares
the M per-label logits with a reference vector instead of a class:

* untargeted (:class:`MultiLabelMisclassification`): the reference is a 0/1 label vector chosen
  by :func:`untargeted_reference` (``truth``: the ground-truth findings, as Ghamizi et al.'s code;
  ``prediction``: the clean prediction at the model's thresholds) and the attack *ascends* the
  loss, i.e. pushes the output away from the reference. Only ``truth`` attacks what k-robust
  accuracy scores: since ∂BCE/∂z_j = σ(z_j) − ref_j, ascending away from the prediction raises
  every label the model called negative, the findings it missed included, so a weak ranker's
  k-robust accuracy can *rise* under that attack;
* targeted (:class:`MultiLabelTarget`): the reference is a target vector (a label set, or the
  real-valued risk row ``C(ŷ*)`` of :mod:`cxrbench.data.cooccurrence`) and the attack *descends*
  the loss towards it.

Losses (``loss=``): ``bce`` (sigmoid cross-entropy, summed over labels), ``mse`` (of the sigmoid
probabilities), ``ordinal`` (:func:`ordinal_loss`) and ``topk``
(:func:`topk_margin`, untargeted only: the k-robust accuracy's own criterion, every reference
finding pushed below the k-th largest logit of the other labels).

The step is a fixed fraction of ε (``rel_stepsize``, default 1/4), never larger than ε (their code
stepped by more than ε), the iterate is projected on the ε-ball around the clean image and clipped
to the pixel bounds, and there is no random start by default. With the step independent of the
budget, the iterate after k steps of a 50-step run *is* the k-step run: :meth:`MultiLabelPGD.run_steps`
returns the iterates at every requested budget from one run (ε × steps grids cost one run per ε).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import eagerpy as ep
import foolbox as fb
import numpy as np
import torch
import torch.nn.functional as F
from foolbox.attacks.base import get_criterion

from cxrbench.errors import ConfigError


def ordinal_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per image ``mean over pairs with t_i > t_j of softplus(-(z_i - z_j))`` (differentiable; 0 if no pair)."""
    above = (targets[:, :, None] > targets[:, None, :]).to(logits.dtype)
    margin = logits[:, :, None] - logits[:, None, :]
    pairs = above.sum(dim=(1, 2))
    return (torch.nn.functional.softplus(-margin) * above).sum(dim=(1, 2)) / pairs.clamp(min=1)


def _bce(logits: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, reference, reduction="none").sum(1)


def _mse(logits: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return (torch.sigmoid(logits) - reference).pow(2).sum(1)


def topk_margin(logits: torch.Tensor, reference: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Per image ``Σ_{i∈P} softplus(z_(k)^{¬P} − z_i)``, to be *ascended*; ``P`` = labels with reference ≥ 0.5.

    ``z_(k)^{¬P}`` is the k-th largest logit of the labels outside ``P`` (the smallest of them when
    fewer than k are outside); an image with no label outside ``P``, or none in it, contributes 0.
    Once every finding lies below it, top_k holds no finding: the image's k-robust accuracy is 0.
    The loss grows without bound, so the ascent keeps widening the margin (as BCE does); a
    saturating form, ``−Σ softplus(z_i − z_(k))``, weighs the findings still inside the top-k more
    but measured slightly weaker on the linear toy of ``docs/protocol-changes.md``.
    """
    present = reference >= 0.5
    outside = present.logical_not().sum(dim=1)
    others = logits.masked_fill(present, float("-inf")).sort(dim=1, descending=True).values
    kth = others.gather(1, ((outside.clamp(max=k) - 1).clamp(min=0))[:, None])
    # With no label outside P the k-th is -inf: keep the margin finite (the row is zeroed below anyway).
    kth = torch.where(torch.isfinite(kth), kth, torch.zeros_like(kth))
    terms = torch.nn.functional.softplus(kth - logits) * present.to(logits.dtype)
    return terms.sum(dim=1) * (outside > 0).to(logits.dtype)


#: Loss name -> per-image loss of (logits, reference vectors).
LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "bce": _bce, "mse": _mse, "ordinal": ordinal_loss, "topk": topk_margin}
#: Losses that only make sense ascended away from a reference (not towards a target).
UNTARGETED_ONLY = ("topk",)
#: What the untargeted attack ascends its loss away from (see the module docstring).
REFERENCES = ("truth", "prediction")


def untargeted_reference(reference: str, *, truth: np.ndarray, clean_probs: np.ndarray,
                         thresholds: np.ndarray) -> np.ndarray:
    """The 0/1 reference vectors ``(images, M)`` of the untargeted attack.

    Args:
        reference: ``truth`` (the ground-truth findings) or ``prediction`` (the clean prediction,
            probability ≥ the label's threshold).
        truth: the images' ground-truth findings, 0/1 (-1, not labelled by the dataset, reads as
            absent, as in the k-robust accuracies).
        clean_probs: their clean probabilities.
        thresholds: the per-label thresholds (validation split).
    """
    if reference == "truth":
        return (np.asarray(truth) == 1).astype(np.float32)
    if reference == "prediction":
        return (np.asarray(clean_probs) >= np.asarray(thresholds)).astype(np.float32)
    raise ConfigError(f"unknown multi-label reference {reference!r}; choose one of: {', '.join(REFERENCES)}")


def _over(outputs: ep.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(outputs.raw) >= thresholds.to(outputs.raw.device)


class MultiLabelMisclassification(fb.criteria.Misclassification):
    """Adversarial when the predicted label set (sigmoid ≥ per-label threshold) differs from the reference.

    As Foolbox's ``Misclassification`` with a class label, an image the model already gets wrong
    (with ``truth`` as reference) counts as adversarial from the start; the records never use the
    criterion's verdict, only the iterates.

    Args:
        clean: the reference, 0/1 per label ``(batch, M)`` (:func:`untargeted_reference`): the
            loss's reference and what success is judged against.
        thresholds: per-label probability thresholds ``(M,)`` (chosen on the validation split).
    """

    def __init__(self, clean: Any, thresholds: torch.Tensor):
        super().__init__(torch.as_tensor(clean, dtype=torch.float32))
        self.thresholds = torch.as_tensor(thresholds, dtype=torch.float32)

    def __call__(self, perturbed: Any, outputs: Any) -> Any:
        outputs_, restore_type = ep.astensor_(outputs)
        changed = _over(outputs_, self.thresholds) != self.labels.raw.bool()
        return restore_type(ep.astensor(changed.any(dim=1)))


class MultiLabelTarget(fb.criteria.Criterion):
    """Adversarial when the predicted label set equals the target's (target ≥ 0.5 counts as present).

    Args:
        targets: target vectors ``(batch, M)`` in ``[0, 1]``: the loss's reference.
        thresholds: per-label probability thresholds ``(M,)``.
    """

    def __init__(self, targets: Any, thresholds: torch.Tensor):
        super().__init__()
        self.target_classes = ep.astensor(torch.as_tensor(targets, dtype=torch.float32))
        self.thresholds = torch.as_tensor(thresholds, dtype=torch.float32)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({tuple(self.target_classes.shape)})"

    def __call__(self, perturbed: Any, outputs: Any) -> Any:
        outputs_, restore_type = ep.astensor_(outputs)
        hit = _over(outputs_, self.thresholds) == (self.target_classes.raw >= 0.5)
        return restore_type(ep.astensor(hit.all(dim=1)))


class MultiLabelPGD(fb.attacks.LinfPGD):
    """Foolbox 3's L∞ PGD with a multi-label loss; keyword-only, fixed step ``rel_stepsize · ε``.

    Args:
        loss: ``bce``, ``mse``, ``ordinal`` or ``topk`` (see :data:`LOSSES`).
        steps: iterations of :meth:`run` (``run_steps`` takes its budgets explicitly).
        rel_stepsize: the step as a fraction of ε (at most 1).
        random_start: start from a uniform draw in the ε-ball (then seed torch for reproducibility).
        k: the k the ``topk`` loss aims at (ignored by the other losses).
    """

    def __init__(self, *, loss: str = "bce", steps: int = 50, rel_stepsize: float = 0.25,
                 random_start: bool = False, k: int = 3):
        if loss not in LOSSES:
            raise ConfigError(f"unknown multi-label loss {loss!r}; choose one of: {', '.join(LOSSES)}")
        if not 0 < rel_stepsize <= 1:
            raise ConfigError(f"rel_stepsize must be in (0, 1] (a step larger than ε overshoots the ball), "
                              f"got {rel_stepsize}")
        if not isinstance(k, int) or k < 1:
            raise ConfigError(f"the topk loss needs a positive integer k, got {k!r}")
        super().__init__(rel_stepsize=rel_stepsize, steps=steps, random_start=random_start)
        self.loss, self.k = loss, k

    def __repr__(self) -> str:
        k = f", k={self.k}" if self.loss == "topk" else ""
        return (f"{type(self).__name__}(loss={self.loss!r}{k}, steps={self.steps}, "
                f"rel_stepsize={self.rel_stepsize:g}, random_start={self.random_start})")

    def get_loss_fn(self, model: fb.Model, labels: ep.Tensor) -> Callable[[ep.Tensor], ep.Tensor]:
        reference = labels.raw
        per_image = (lambda z, r: topk_margin(z, r, self.k)) if self.loss == "topk" else LOSSES[self.loss]

        def loss_fn(inputs: ep.Tensor) -> ep.Tensor:
            return ep.astensor(per_image(model(inputs).raw, reference.to(inputs.raw.device)).sum())

        return loss_fn

    def run_steps(self, model: fb.Model, inputs: torch.Tensor, criterion: fb.criteria.Criterion, *,
                  epsilon: float, steps: Sequence[int],
                  keep: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[int, torch.Tensor]:
        """The iterates after each budget of ``steps`` (ascending, ≥ 1) of one run at ``epsilon``.

        Foolbox's own loop (:meth:`run`), keeping a copy at every requested budget; ``run`` with
        ``self.steps = k`` returns exactly ``run_steps(..., steps=[k])[k]``.

        Args:
            keep: per-image scores ``(batch, s)`` of a batch of logits, lower = more broken (e.g. the
                k-robust accuracies at several k). When given, each snapshot holds per image the
                latest iterate that scores no higher than the kept one on *every* score, starting
                from the clean image (δ = 0 lies in every budget): the snapshot is never better for
                the model than the clean image at any of them, and is the plain iterate wherever the
                ascent did not undo its own progress. The walk itself is unchanged.
        """
        budgets = sorted(set(int(s) for s in steps))
        if not budgets or budgets[0] < 1:
            raise ConfigError(f"step budgets must be positive, got {list(steps)}")
        x0 = ep.astensor(inputs)
        criterion_ = get_criterion(criterion)
        sign, reference = ((1.0, criterion_.labels) if isinstance(criterion_, fb.criteria.Misclassification)
                           else (-1.0, criterion_.target_classes))
        if sign < 0 and self.loss in UNTARGETED_ONLY:
            raise ConfigError(f"the {self.loss} loss is ascended away from a reference; a targeted attack cannot "
                              "descend it")
        loss_fn = self.get_loss_fn(model, reference)
        optimizer = self.get_optimizer(x0, self.rel_stepsize * epsilon)
        x = ep.clip(self.get_random_start(x0, epsilon), *model.bounds) if self.random_start else x0
        kept = _Kept(keep, model, x0) if keep is not None else None
        out = {}
        for step in range(1, budgets[-1] + 1):
            _, gradients = self.value_and_grad(loss_fn, x)
            x = x + sign * optimizer(self.normalize(gradients, x=x, bounds=model.bounds))
            x = ep.clip(self.project(x, x0, epsilon), *model.bounds)
            current = kept.offer(x) if kept is not None else x.raw
            if step in budgets:
                out[step] = current.detach().clone()
        return out


class _Kept:
    """Per image the latest iterate no better than the kept one at every score (see ``run_steps``)."""

    def __init__(self, scores: Callable[[torch.Tensor], torch.Tensor], model: fb.Model, clean: ep.Tensor):
        self.scores, self.model = scores, model
        self.x = clean.raw.detach().clone()
        self.best = self._score(clean)

    def _score(self, x: ep.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.scores(self.model(x).raw)

    def offer(self, x: ep.Tensor) -> torch.Tensor:
        score = self._score(x)
        take = (score <= self.best).all(dim=1)
        self.best = torch.where(take[:, None], score, self.best)
        self.x = torch.where(take.view(-1, *([1] * (self.x.dim() - 1))), x.raw.detach(), self.x)
        return self.x
