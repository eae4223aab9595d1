"""SIGTERM during training: finish the step, save a resume point, then let the signal do what it did.

Slurm ends a job that is cancelled, requeued (``scontrol requeue``), preempted or past its time
limit with SIGTERM to every process of the job, then SIGKILL ``KillWait`` seconds later (30 s by
default). Python's default for SIGTERM is to die at once, so before this module the steps trained
since the last evaluation's ``last.pt`` were trained again by the next execution: up to
``train.eval_every`` steps, a whole epoch under ``train=paper``. Lowering ``eval_every`` is no way
out, because it is part of the checkpoint key (it decides where BatchNorm is re-estimated and which
checkpoint is kept).

:class:`DeferredSignal` notes the signal instead; the loop checks after every step, writes
``last.pt`` at that step (a step boundary is a complete resume point: the epoch order, the
adversary's draws and the schedule all follow from the step number) and then hands the signal on
to whatever handled it before:

* the default action (a plain ``sbatch`` job, a local run): the process ends by SIGTERM, as it did;
* a Python handler (submitit installs one that logs "Bypassing signal SIGTERM" and carries on until
  SIGKILL): it is called, and training goes on as it did;
* ignored: nothing.
"""
from __future__ import annotations

import signal
import sys
import threading
from types import FrameType


class DeferredSignal:
    """Within ``with``, hold ``signum`` until :meth:`deliver` (only in the main thread, where handlers live).

    Args:
        signum: The signal to hold (SIGTERM).
    """

    def __init__(self, signum: int = signal.SIGTERM):
        self.signum = signum
        self.pending = False
        self._installed = False
        self._previous = None

    def __enter__(self) -> "DeferredSignal":
        # Signal handlers can only be set from the main thread; elsewhere the signal acts as before.
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(self.signum, self._note)
            self._installed = True
        return self

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.pending = True

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._installed:
            return
        signal.signal(self.signum, self._previous)
        self._installed = False
        if self.pending and exc_type is None:
            # Arrived after the last check: the caller's work is done, the signal still counts.
            self.deliver()

    def deliver(self) -> None:
        """Hand a held signal to the handler that was in place before ``with`` (see the module doc)."""
        if not self.pending:
            return
        self.pending = False
        previous = self._previous
        if callable(previous):
            previous(self.signum, None)
        elif previous == signal.SIG_DFL:
            # Die by the signal, so Slurm and shells see what they saw before (exit status 128 + 15).
            sys.stdout.flush()
            sys.stderr.flush()
            signal.signal(self.signum, signal.SIG_DFL)
            signal.raise_signal(self.signum)
        # SIG_IGN, or a handler installed outside Python (None): the signal had no effect, nor has it now.
