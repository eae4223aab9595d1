"""The ten attacks of Taghanaki et al. 2018 on Foolbox 3, each a minimal-perturbation search, and APGD-CE.

Importing this package registers them; ``list_attacks()`` returns them in the paper's column
order (G1-G5, D1-D3, S1-S2), then the attacks the paper did not run.
"""
from cxrbench.attacks.apgd import APGD
from cxrbench.attacks.base import AttackStats, CountingAttack, image_key
from cxrbench.attacks.decision import AdditiveGaussianNoiseAttack, ContrastReductionAttack, GaussianBlurAttack
from cxrbench.attacks.deepfool import DeepFool
from cxrbench.attacks.gradient import FGSM, IterativeLinfAttack
from cxrbench.attacks.lbfgs import LBFGSAttack
from cxrbench.attacks.local_search import LocalSearchAttack
from cxrbench.attacks.registry import AttackSpec, create_attack, get_attack_spec, list_attacks, register_attack
from cxrbench.attacks.single_pixel import SinglePixelAttack


class BIM(IterativeLinfAttack):
    """G4 L∞ BIM: Foolbox 1.x ``LinfinityBasicIterativeAttack`` (α/ε = 0.05/0.3, 10 iterations).

    Its ε search tries up to ``growth_tries`` = 20 values 0.3·1.5^i, then bisects
    ``binary_search_steps`` = 20 times from 0; see :class:`IterativeLinfAttack` for the arguments.
    """

    def __init__(self, *, epsilon: float = 0.3, rel_stepsize: float = 0.05 / 0.3, iterations: int = 10,
                 binary_search_steps: int = 20, growth_tries: int = 20, random_start: bool = False,
                 return_early: bool = True, seed: int = 0, batch_size: int = 64):
        super().__init__(epsilon=epsilon, rel_stepsize=rel_stepsize, iterations=iterations,
                         binary_search_steps=binary_search_steps, growth_tries=growth_tries,
                         random_start=random_start, return_early=return_early, seed=seed,
                         batch_size=batch_size)


class PGD(IterativeLinfAttack):
    """G2 PGD: Foolbox 1.x ``ProjectedGradientDescentAttack`` (α/ε = 0.01/0.3, 40 iterations).

    Its ε search tries up to ``growth_tries`` = 20 values 0.3·1.5^i, then bisects
    ``binary_search_steps`` = 20 times from 0; see :class:`IterativeLinfAttack` for the arguments.
    """

    def __init__(self, *, epsilon: float = 0.3, rel_stepsize: float = 0.01 / 0.3, iterations: int = 40,
                 binary_search_steps: int = 20, growth_tries: int = 20, random_start: bool = False,
                 return_early: bool = True, seed: int = 0, batch_size: int = 64):
        super().__init__(epsilon=epsilon, rel_stepsize=rel_stepsize, iterations=iterations,
                         binary_search_steps=binary_search_steps, growth_tries=growth_tries,
                         random_start=random_start, return_early=return_early, seed=seed,
                         batch_size=batch_size)


_PAPER = [  # name, paper id, title, family, needs, class
    ("fgsm", "G1", "FGSM", "gradient", "gradients", FGSM),
    ("pgd", "G2", "PGD", "gradient", "gradients", PGD),
    ("deepfool", "G3", "DeepFool", "gradient", "gradients", DeepFool),
    ("bim", "G4", "L-inf BIM", "gradient", "gradients", BIM),
    ("lbfgs", "G5", "L-BFGS", "gradient", "gradients", LBFGSAttack),
    ("gaussian_blur", "D1", "Gaussian blur", "decision", "labels", GaussianBlurAttack),
    ("contrast_reduction", "D2", "Contrast reduction", "decision", "labels", ContrastReductionAttack),
    ("gaussian_noise", "D3", "Additive Gaussian noise", "decision", "labels", AdditiveGaussianNoiseAttack),
    ("local_search", "S1", "Local search", "score", "scores", LocalSearchAttack),
    ("single_pixel", "S2", "Single pixel", "score", "labels", SinglePixelAttack),
]
for _name, _pid, _title, _family, _needs, _cls in _PAPER:
    register_attack(_name, paper_id=_pid, title=_title, family=_family, needs=_needs)(_cls)
register_attack("apgd", paper_id="APGD", title="APGD-CE", family="gradient", needs="gradients", in_paper=False)(APGD)

__all__ = ["APGD", "AttackSpec", "AttackStats", "CountingAttack", "image_key", "create_attack", "get_attack_spec",
           "list_attacks", "register_attack", "BIM", "PGD", "FGSM", "DeepFool", "IterativeLinfAttack", "LBFGSAttack",
           "LocalSearchAttack", "SinglePixelAttack", "GaussianBlurAttack", "ContrastReductionAttack",
           "AdditiveGaussianNoiseAttack"]
