"""The training loop: resumable, seeded, best checkpoint by validation AUC (robust accuracy for PGD-AT).

Adversarial training (``train.adversary.method=pgd``; protocol :data:`AT_PROTOCOL`) differs in two
places, both so that the saved model is the one that was trained: BatchNorm statistics are
re-estimated on the adversary's batches (clean statistics would normalise the network with moments
it never saw during training), and the best checkpoint is the one with the highest accuracy under
the training adversary on the validation split (clean AUC breaks ties), not the cleanest one.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from cxrbench.data.datasets import DataBundle
from cxrbench.models.factory import CXRClassifier
from cxrbench.runtime import Runtime
from cxrbench.settings import TrainConfig
from cxrbench.tasks import Task, get_task
from cxrbench.training.adversarial import AT_PROTOCOL, build_batch_adversary, robust_accuracy
from cxrbench.training.batchnorm import recalibrate_batchnorm
from cxrbench.training.checkpoint import check_identity, read_checkpoint, save_checkpoint
from cxrbench.training.interrupt import DeferredSignal
from cxrbench.training.optim import build_optimizer, build_scheduler


@dataclass
class FitResult:
    best_path: Path
    best_step: int
    best_val_auc: float   # the clean validation AUC of the kept checkpoint
    steps: int
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    selected_by: str = "val_auc"   # the score the kept checkpoint maximised


def _epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    # One generator per epoch: a resumed run reproduces the interrupted epoch's order exactly.
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def fit(model: CXRClassifier, data: DataBundle, cfg: TrainConfig, run_dir: Path, runtime: Runtime,
        *, seed: int = 0, progress: bool = True, task: Task | None = None,
        log: Callable[[str], None] = print) -> FitResult:
    """Train ``model`` on ``data.train``; evaluate on ``data.val`` every ``eval_every`` steps.

    ``run_dir/last.pt`` is written at each evaluation before the last step, and at the step where a SIGTERM arrives
    (:mod:`cxrbench.training.interrupt`), so an interrupted or requeued run resumes from there
    (``log`` says at which step); ``run_dir/best.pt`` holds the weights with the best validation AUC
    (the task's: ROC-AUC for the binary task, macro ROC-AUC over the labels for the multi-label
    one), or for adversarial training the best validation accuracy under the training adversary
    (see above).
    """
    task = task or get_task("binary")
    run_dir = Path(run_dir)
    n = len(data.train)
    steps_per_epoch = max(1, n // cfg.batch_size)  # drop the ragged last batch: BatchNorm dislikes tiny ones
    total = cfg.max_steps if cfg.max_steps is not None else cfg.epochs * steps_per_epoch
    eval_every = cfg.eval_every or steps_per_epoch
    model = runtime.prepare(model)
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg, steps_per_epoch, total)
    scaler = torch.amp.GradScaler("cuda", enabled=runtime.amp)
    adversary = build_batch_adversary(cfg.adversary, seed)
    loss_fn = task.loss_fn(data.train, cfg.label_smoothing)
    adversarial = cfg.adversary.method != "none"
    selected_by = "val_robust_accuracy" if adversarial else "val_auc"
    step, best_auc, best_step, history, elapsed = 0, -math.inf, -1, [], 0.0
    best_score: tuple = (-math.inf,)

    last = run_dir / "last.pt"
    if last.exists():
        state = read_checkpoint(last)
        check_identity(state, model.identity, last)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        step, best_auc, best_step = state["step"], state["best_val_auc"], state["best_step"]
        best_score = tuple(state.get("best_score", (best_auc,)))
        history, elapsed = list(state["history"]), state["seconds"]
        log(f"training {run_dir.name}: resuming at step {step} of {total} from {last}")

    bar = tqdm(total=total, initial=step, desc=f"train {model.identity.model}/{model.identity.pooling}",
               disable=not progress, dynamic_ncols=True)
    started = time.perf_counter() - elapsed

    def save_resume_point() -> None:
        save_checkpoint(last, model, optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                        scaler=scaler.state_dict(), step=step, best_val_auc=best_auc, best_step=best_step,
                        best_score=list(best_score), history=history, seconds=time.perf_counter() - started)

    model.train()
    with DeferredSignal() as sigterm:
        while step < total:
            epoch, offset = divmod(step, steps_per_epoch)
            order = _epoch_order(n, seed, epoch)
            start = offset * cfg.batch_size
            x, y = task.batch(data.train, order[start:start + cfg.batch_size].numpy())
            x, y = runtime.batch(x), y.to(runtime.device)
            with runtime.autocast():
                x = adversary(model, x, y, step)
                loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", best_auc=f"{best_auc:.3f}" if best_step >= 0 else "-")
            if step % eval_every == 0 or step == total:
                # Negative keys: the recalibration's random starts never repeat a training step's.
                craft = (lambda x, y, b, at=step: adversary(model, x, y, -(at * cfg.bn_recalibration_batches + b + 1))
                         ) if adversarial else None
                recalibrate_batchnorm(model, data.train, runtime, batches=cfg.bn_recalibration_batches,
                                      batch_size=cfg.batch_size, seed=seed + step, transform=craft)
                metrics = task.validate(model, data.val, runtime, cfg.eval_batch_size)
                entry = {"step": step, "loss": float(loss.item()), "val_accuracy": metrics["accuracy"],
                         "val_auc": metrics["auc"], "lr": scheduler.get_last_lr()[0]}
                if adversarial:
                    entry["val_robust_accuracy"] = robust_accuracy(model, data.val, cfg.adversary, runtime,
                                                                   batch_size=cfg.eval_batch_size, seed=seed)
                history.append(entry)
                score = (entry["val_robust_accuracy"], metrics["auc"]) if adversarial else (metrics["auc"],)
                if score > best_score or best_step < 0:
                    best_score, best_auc, best_step = score, metrics["auc"], step
                    save_checkpoint(run_dir / "best.pt", model, step=step, val={**metrics, **entry})
                if step < total:  # at the last step the run is over: a resume point (3x the weights) would be unused
                    save_resume_point()
                model.train()
            if sigterm.pending:
                save_resume_point()
                log(f"training {run_dir.name}: SIGTERM at step {step} of {total}; resume point saved to {last}")
                sigterm.deliver()
    bar.close()
    return FitResult(best_path=run_dir / "best.pt", best_step=best_step, best_val_auc=best_auc, steps=step,
                     history=history, seconds=time.perf_counter() - started,
                     selected_by=f"{selected_by} (AT protocol {AT_PROTOCOL})" if adversarial else selected_by)
