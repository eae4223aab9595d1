"""G5: Foolbox 1.x's ``LBFGSAttack`` (Szegedy et al.), ported to the Foolbox 3 contract.

Per sample, L-BFGS-B minimises D(x) + c·CE_target(x) over the pixel box, starting from x₀, where
D is the MSE normalised by n·(max−min)² and the target is the other class of a binary task (the
most likely wrong class otherwise). The trade-off c starts at ``epsilon``, doubles until the
optimum fools, then is bisected down to a resolution of ``epsilon``. As in Foolbox 1.x, every
model call can produce the result: the smallest-MSE adversarial seen in any L-BFGS-B call wins.
The per-sample optimisers run side by side in threads whose model calls are batched; their CPU
work is serialised (one thread computes at a time) so results are bit-reproducible.
"""
from __future__ import annotations

import math
import threading

import foolbox as fb
import numpy as np
import torch
import torch.nn.functional as F
from scipy import optimize

from cxrbench.attacks.base import CountingAttack, logits_of
from cxrbench.attacks.gradient import logits_and_gradient

#: L-BFGS-B memory, as Foolbox 1.x passed it.
MEMORY = 15
#: Foolbox 1.x scaled loss and gradient by this so scipy's tolerances do not stop it at once.
SCALE = 1e10


class LBFGSAttack(CountingAttack):
    """G5: box-constrained L-BFGS with a doubling-then-bisection search over c.

    Args:
        epsilon: first c (the search doubles it before the first try, as Foolbox 1.x did) and
            the resolution at which the bisection stops.
        maxiter: L-BFGS-B iterations per value of c.
        max_doublings: doublings of c before giving up on a sample.
        max_bisections: cap on bisection steps; None bisects until the c-resolution rule stops.
    """

    distance = fb.distances.l2
    needs = "gradients"

    def __init__(self, *, epsilon: float = 1e-5, maxiter: int = 150, max_doublings: int = 30,
                 max_bisections: int | None = None):
        self.epsilon, self.maxiter = epsilon, maxiter
        self.max_doublings, self.max_bisections = max_doublings, max_bisections

    def attack(self, model, x, y, rows):
        with torch.no_grad():
            logits = logits_of(model, x)
        self.stats.count(rows, queries=1)
        # Foolbox 1.x picked the target with a gradient attack; in the binary task both pick the
        # other class, and beyond two classes the runner-up is the natural stand-in.
        wrong = logits.clone()
        wrong[torch.arange(len(x)), y] = -math.inf
        targets = wrong.argmax(1)
        out, found = x.clone(), np.full(len(x), np.nan)
        # One SciPy optimiser per sample, each in its own thread, exactly as sequential runs
        # would go; their model calls meet in a lockstep oracle and are batched.
        # The gate lets one worker compute at a time: concurrent SciPy/OpenBLAS/torch calls from
        # several threads made L-BFGS results differ between runs under CPU load. A worker holds
        # it except while it waits for the oracle, so batching is unchanged.
        gate = threading.Lock()
        oracle = _LockstepOracle(len(x), gate)
        results: dict[int, tuple[torch.Tensor | None, float]] = {}
        failures: list[BaseException] = []

        def work(i: int) -> None:
            gate.acquire()
            try:
                results[i] = self._attack_one(oracle, i, x[i], y[i], targets[i], model.bounds)
            except BaseException as exc:  # re-raised in the calling thread
                failures.append(exc)
            finally:
                gate.release()
                oracle.retire()

        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(x))]
        for t in threads:
            t.start()
        oracle.serve(lambda batch: self._evaluate(model, batch, rows))
        for t in threads:
            t.join()
        if failures:
            raise failures[0]
        for i, (adv, c) in results.items():
            if adv is not None:
                out[i], found[i] = adv, c
        return out, found

    def _evaluate(self, model, batch: dict[int, tuple], rows: np.ndarray) -> dict[int, tuple]:
        """One batched forward (and backward, for gradient requests) for all waiting samples."""
        out = {}
        for need_grad in (True, False):
            # Sorted, not in arrival order: a sample's place in the batch must not depend on which
            # thread asked first (batched kernels can round differently by position).
            keys = sorted(i for i, (_, g, _) in batch.items() if g == need_grad)
            if not keys:
                continue
            images = torch.cat([batch[i][0] for i in keys])
            if need_grad:
                targets = torch.stack([batch[i][2] for i in keys])
                logits, grads = logits_and_gradient(model, images, targets)
            else:
                with torch.no_grad():
                    logits = logits_of(model, images)
                grads = [None] * len(keys)
            self.stats.count(rows[keys], queries=1, gradients=int(need_grad))
            for j, i in enumerate(keys):
                out[i] = (logits[j:j + 1], grads[j])
        return out

    def _attack_one(self, oracle: "_LockstepOracle", i: int, x: torch.Tensor, y: torch.Tensor,
                    target: torch.Tensor, bounds) -> tuple[torch.Tensor | None, float]:
        """Run the c search for one sample; returns (best adversarial or None, its c)."""
        lo, hi = bounds
        shape = x.shape
        x0 = x.detach().cpu().numpy().astype(np.float64).ravel()
        norm = x0.size * (hi - lo) ** 2
        box = [(lo, hi)] * x0.size
        best = {"mse": math.inf, "adv": None, "c": math.nan}
        label, target = y.view(1), target.view(1)

        def as_image(v: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(v.reshape(shape)).to(dtype=x.dtype, device=x.device)[None]

        def consider(image: torch.Tensor, logits: torch.Tensor, c: float) -> bool:
            fooled = bool(logits.argmax(1) != label)
            # Out-of-box points are never results (Foolbox 1.x's strict=False bookkeeping).
            if fooled and lo <= image.min().item() and image.max().item() <= hi:
                mse = float((image.double() - x.double()).pow(2).sum()) / norm
                if mse < best["mse"]:
                    best.update(mse=mse, adv=image[0].detach().clone(), c=c)
            return fooled

        def loss(v: np.ndarray, c: float) -> tuple[float, np.ndarray]:
            image = as_image(v)
            logits, grad = oracle.request(i, image, True, target[0])
            consider(image, logits, c)
            diff = v - x0
            ce = float(F.cross_entropy(logits.double(), target))
            value = diff @ diff / norm + c * ce
            gradient = 2 * diff / norm + c * grad.cpu().numpy().astype(np.float64).ravel()
            return SCALE * value, SCALE * gradient

        def fools_at(c: float) -> bool:
            # Looked up at call time so tests can see the real scipy optimiser being used.
            v, _, _ = optimize.fmin_l_bfgs_b(loss, x0, args=(c,), bounds=box, m=MEMORY,
                                             maxiter=self.maxiter)
            # L-BFGS-B may step marginally outside the box; Foolbox 1.x clipped before testing.
            image = as_image(np.clip(v, lo, hi))
            logits, _ = oracle.request(i, image, False, target[0])
            return consider(image, logits, c)

        c = self.epsilon
        for _ in range(self.max_doublings):
            c *= 2
            if fools_at(c):
                break
        else:
            return best["adv"], best["c"]
        c_low, c_high, steps = 0.0, c, 0
        while c_high - c_low >= self.epsilon and (self.max_bisections is None or steps < self.max_bisections):
            c_half = (c_low + c_high) / 2
            if fools_at(c_half):
                c_high = c_half
            else:
                c_low = c_half
            steps += 1
        return best["adv"], best["c"]


class _LockstepOracle:
    """Batches the model calls of per-sample worker threads.

    A worker's :meth:`request` blocks until every live worker has asked (or retired); the
    serving thread then answers all of them with one batched call. Workers advance in
    lockstep, so each batch holds the same samples whatever the thread timing: results do
    not depend on scheduling. Workers hold ``gate`` while they compute; :meth:`request`
    releases it while the worker waits and takes it back before returning.
    """

    def __init__(self, workers: int, gate: threading.Lock | None = None):
        self._gate = gate if gate is not None else threading.Lock()
        self._cv = threading.Condition()
        self._alive = workers
        self._pending: dict[int, tuple] = {}
        self._answers: dict[int, tuple] = {}
        self._broken = False

    def request(self, i: int, image: torch.Tensor, need_grad: bool, target: torch.Tensor) -> tuple:
        """Ask for sample ``i``'s model output; the caller holds the gate, and holds it again on return."""
        # Let another worker compute while this one waits. The gate is taken back only after
        # leaving the condition, since a worker holding the gate may be about to enter it.
        self._gate.release()
        try:
            with self._cv:
                self._pending[i] = (image, need_grad, target)
                self._cv.notify_all()
                self._cv.wait_for(lambda: i in self._answers or self._broken)
                broken = self._broken
                answer = None if broken else self._answers.pop(i)
        finally:
            self._gate.acquire()
        if broken:
            raise RuntimeError("the batched model call failed; see the error in the calling thread")
        return answer

    def retire(self) -> None:
        with self._cv:
            self._alive -= 1
            self._cv.notify_all()

    def serve(self, evaluate) -> None:
        """Answer batches until every worker has retired."""
        while True:
            with self._cv:
                self._cv.wait_for(lambda: len(self._pending) >= self._alive)
                if not self._pending:
                    return
                batch, self._pending = self._pending, {}
            try:
                answers = evaluate(batch)
            except BaseException:
                with self._cv:
                    self._broken = True
                    self._cv.notify_all()
                raise
            with self._cv:
                self._answers.update(answers)
                self._cv.notify_all()
