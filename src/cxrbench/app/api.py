"""The Python API: attack a model you hold in memory and get the records back, as ``scripts/run.py`` would.

    from cxrbench.app.api import benchmark
    records, table = benchmark(net, data="phantom", attacks=["fgsm", "pgd"], input_size=224,
                               normalise="imagenet", output="two_logits", results_dir="results/mine")
    records, table = benchmark(net, attacks=["pgd", "apgd"], epsilons=[0.5, 1, 2], output="one_logit")

In the style of ``robustbench.eval.benchmark``: without ``epsilons`` each attack is the attack command
(``scripts/run.py attack=<a> model=external``: white-box, and black-box against the other models of
``grid.models`` when ``overrides`` name some); with ``epsilons`` (units of 1/255) the robust protocol's
fixed-budget walk over them (``experiment=robust_quick``-style). The module is handed to the run as
``model=external model.format=module``, keyed by the SHA-256 of its state dict, and the config is
composed from ``configs/`` exactly as the command line's; the job then runs through
:func:`cxrbench.app.run.execute`, the function ``scripts/run.py`` runs, so records are the same
records with the same fields. It is never trained.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from torch import nn

from cxrbench.app.cli import CONFIGS, ROOT
from cxrbench.app.run import execute
from cxrbench.kit.compose import compose_raw
from cxrbench.kit.config import validate
from cxrbench.models.external_source import provide, withdraw


def _hydra_list(values: Sequence) -> str:
    """A list as a Hydra override value; names are quoted (torchxrayvision's have spaces)."""
    return "[" + ",".join(json.dumps(v) if isinstance(v, str) else str(v) for v in values) + "]"


def external_overrides(digest: str, *, data: str, task: str, input_size: int, channels: int, normalise: str,
                       output: str, labels: Sequence[str] | None) -> list[str]:
    """The overrides that make the module registered under ``digest`` the run's model, alone in the grid."""
    lines = [f"data={data}", f"task={task}", "model=external", "model.format=module", f"model.path={digest}",
             f"model.input_size={input_size}", f"model.channels={channels}", f"model.normalise={normalise}",
             f"model.output={output}", "grid.models=[external]", "grid.poolings=[max]"]
    return lines + ([f"model.labels={_hydra_list(labels)}"] if labels is not None else [])


def jobs(model_lines: list[str], attacks: Sequence[str], epsilons: Sequence[float] | None,
         overrides: Sequence[str]) -> list[list[str]]:
    """Every job's overrides: one attack command per attack, or one robust walk over ``epsilons``."""
    if epsilons is None:
        return [model_lines + [f"attack={a}", *overrides] for a in attacks]
    base = validate(compose_raw(model_lines + ["robust=default", *overrides], CONFIGS))
    # Every recipe the config lists is emptied (it would train its irv2 and nasnet too), then the model added.
    variants = {**{recipe: [] for recipe in base.robust.variants}, base.train.name: ["external"]}
    mapping = ",".join(f"{recipe}:{_hydra_list(models)}" for recipe, models in variants.items())
    return [model_lines + ["protocol=robust", "robust=default", f"robust.variants={{{mapping}}}",
                           f"robust.attacks={_hydra_list(list(attacks))}", f"robust.epsilons={_hydra_list(epsilons)}",
                           *overrides]]


def records_frame(records: list[dict]) -> pd.DataFrame:
    """One row per record, its scalar fields (nested ones such as ``config`` stay in the records)."""
    return pd.DataFrame([{k: v for k, v in r.items() if not isinstance(v, (dict, list))} for r in records])


def benchmark(model: nn.Module, *, data: str = "phantom", attacks: Sequence[str] = ("fgsm",),
              epsilons: Sequence[float] | None = None, task: str = "binary", input_size: int = 224,
              channels: int = 1, normalise: str = "none", output: str = "two_logits",
              labels: Sequence[str] | None = None, overrides: Sequence[str] = (),
              results_dir: str | Path | None = None, log: Callable[[str], None] = print
              ) -> tuple[list[dict], pd.DataFrame]:
    """Attack ``model`` as the command line would attack ``model=external`` and return the records.

    Args:
        model: the network: ``[0, 1]`` images (after the declared resizing, channels and
            normalisation) in, ``output`` out. It is copied, never trained or changed.
        data: a ``configs/data`` option (``phantom``, ``nih`` with ``data.root=`` in ``overrides``).
        attacks: ``configs/attack`` options; with ``epsilons``, fixed-ε ones (pgd, apgd, bim).
        epsilons: None: each attack's own minimal-ε search (the attack command); else L∞ radii in units
            of 1/255 for the robust protocol's walk.
        task: ``binary`` or ``multilabel`` (the clean multi-label evaluation; its attacks are the
            multi-label protocol's, not this function's).
        input_size: the square input size the model expects; images are resized to it.
        channels: 1, or 3 to repeat the gray channel.
        normalise: ``imagenet``, ``xrv`` (torchxrayvision's [-1024, 1024]) or ``none``.
        output: ``two_logits``, ``one_logit``, ``label_logits`` or ``label_probs``.
        labels: per-label outputs: one name per output, in order.
        overrides: further config overrides (``train.input_size=64``, ``attack.quick.images=20``, ``device=cpu``).
        results_dir: where records go (``paths.results_dir``); None: the config's.
        log: where progress lines go.

    Returns:
        The records of every job (dicts, as written under ``results/records/``) and a DataFrame of
        their scalar fields.

    Raises:
        CxrBenchError: a configuration, data or model problem, with one line that says what to do.
    """
    digest = provide(model)
    try:
        lines = external_overrides(digest, data=data, task=task, input_size=input_size, channels=channels,
                                   normalise=normalise, output=output, labels=labels)
        extra = list(overrides) + ([f"paths.results_dir={results_dir}"] if results_dir is not None else [])
        if task != "binary" and epsilons is None:
            todo = [lines + extra]  # the clean multi-label evaluation: the attack command is binary only
        else:
            todo = jobs(lines, attacks, epsilons, extra)
        records = []
        for job in todo:
            records += execute(compose_raw(job, CONFIGS), ROOT, CONFIGS, job, log=log)[1]
    finally:
        withdraw(digest)
    return records, records_frame(records)
