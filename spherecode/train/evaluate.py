r"""Evaluate a trained classifier from its checkpoint alone: top-1, top-5, per-class accuracy, confusions.

The confusion matrix :math:`M_{yk}` counts test images of class :math:`y` predicted as :math:`k`.
The most confused pairs are the largest off-diagonal entries, each reported with the cosine
:math:`\langle c_y, c_k\rangle` of the two classes' prototypes (for a linear head: of the two
normalised weight rows), to see whether confusions follow the codebook's geometry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.loader import make_loader
from ..data.spec import build_dataset
from ..errors import SpherecodeError
from ..errors import check_choice, check_int
from .checkpoint import Run, load_run
from .distributed import resolve_device
from .task import Task, topk_correct


@dataclass
class EvalReport:
    """Results of :func:`evaluate_model`; ``confused`` rows: (true, predicted, count, rate, cosine)."""

    top1: float
    top5: float
    count: int
    per_class: np.ndarray
    confusion: np.ndarray
    confused: list[tuple[int, int, int, float, float]] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)

    def name(self, k: int) -> str:
        return self.class_names[k] if k < len(self.class_names) else str(k)

    def to_dict(self) -> dict[str, Any]:
        return {
            "top1": self.top1, "top5": self.top5, "count": self.count,
            "per_class": {self.name(k): float(a) for k, a in enumerate(self.per_class)},
            "most_confused": [{"true": self.name(t), "predicted": self.name(p), "count": c, "rate": r, "cosine": cos}
                              for t, p, c, r, cos in self.confused],
        }

    def format(self, classes: int = 5) -> str:
        lines = [f"images     {self.count}", f"top-1      {100 * self.top1:.2f}%", f"top-5      {100 * self.top5:.2f}%"]
        order = np.argsort(self.per_class, kind="stable")
        worst = ", ".join(f"{self.name(k)} {100 * self.per_class[k]:.1f}%" for k in order[:classes])
        best = ", ".join(f"{self.name(k)} {100 * self.per_class[k]:.1f}%" for k in order[::-1][:classes])
        lines += [f"worst      {worst}", f"best       {best}", "most confused (true -> predicted: count, rate, prototype cosine):"]
        lines += [f"  {self.name(t)} -> {self.name(p)}: {c}, {100 * r:.1f}%, {cos:+.3f}" for t, p, c, r, cos in self.confused]
        return "\n".join(lines)


def class_vectors(model: nn.Module) -> np.ndarray | None:
    """The (N, d) unit vectors the head compares with: prototypes in class order, or normalised linear weights."""
    head = getattr(model, "head", None)
    if head is None:
        return None
    if hasattr(head, "class_prototypes"):
        was = head.training
        head.eval()
        with torch.no_grad():
            v = head.class_prototypes().detach().double().cpu().numpy()
        head.train(was)
    elif hasattr(head, "linear"):
        v = head.linear.weight.detach().double().cpu().numpy()
    else:
        return None
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def most_confused(confusion: np.ndarray, vectors: np.ndarray | None, k: int = 10) -> list[tuple[int, int, int, float, float]]:
    """The ``k`` largest off-diagonal confusion entries as (true, predicted, count, rate, cosine)."""
    off = confusion.astype(np.int64).copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None, kind="stable")[:k]
    totals = confusion.sum(axis=1)
    out = []
    for f in flat:
        t, p = divmod(int(f), confusion.shape[1])
        if off[t, p] == 0:
            break
        cos = float(vectors[t] @ vectors[p]) if vectors is not None else float("nan")
        out.append((t, p, int(off[t, p]), float(off[t, p] / max(totals[t], 1)), cos))
    return out


def evaluate_model(model: nn.Module, loader: Any, num_classes: int, device: torch.device,
                   class_names: list[str] | None = None, amp_dtype: torch.dtype | None = None,
                   top_pairs: int = 10) -> EvalReport:
    """Run ``model`` (logits out) over ``loader`` and build the report."""
    model.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    c1 = c5 = n = 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            ctx = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else torch.autocast(device.type, enabled=False)
            with ctx:
                logits = model(x).float()
            a, b = topk_correct(logits, y)
            c1, c5, n = c1 + int(a), c5 + int(b), n + int(y.shape[0])
            pred = logits.argmax(dim=1)
            confusion += torch.bincount((y * num_classes + pred).cpu(), minlength=num_classes**2).view(num_classes, num_classes)
    if n == 0:
        raise SpherecodeError("The evaluation set is empty.")
    conf = confusion.numpy()
    totals = conf.sum(axis=1)
    per_class = np.where(totals > 0, np.diag(conf) / np.maximum(totals, 1), np.nan)
    return EvalReport(c1 / n, c5 / n, n, per_class, conf, most_confused(conf, class_vectors(model), top_pairs),
                      list(class_names or []))


SPLITS = ("train", "test", "val")


def load_trained(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, Task, Any, dict[str, Any]]:
    """(model, task, config, checkpoint dict) of a run: :func:`~spherecode.train.checkpoint.load_run` as a tuple."""
    run = load_run(path, device)
    return run.model, run.task, run.config, run.state


def check_eval_arguments(split: str, batch_size: int, workers: int, top_pairs: int | None = None) -> None:
    """Refuse a bad ``--split``, ``--batch-size``, ``--workers`` or ``--top`` in one line, before any work."""
    check_choice("--split", split, SPLITS)
    check_int("--batch-size", batch_size, minimum=1)
    check_int("--workers", workers, minimum=0)
    if top_pairs is not None:
        check_int("--top", top_pairs, minimum=0)


def evaluate_checkpoint(path: str | Path | Run, data: str | None = None, split: str = "test", device: str = "auto",
                        batch_size: int = 256, workers: int = 0, amp: str = "auto", top_pairs: int = 10) -> EvalReport:
    """Evaluate a classifier checkpoint on ``split`` of ``data`` (default: the dataset it was trained on).

    A pretraining run has no classifier: it is refused in one line (see
    :func:`spherecode.train.representation.evaluate_representation` for its k-NN and linear probe).
    """
    from .loop import resolve_amp

    check_eval_arguments(split, batch_size, workers, top_pairs)
    dev = resolve_device(device)
    run = path if isinstance(path, Run) else load_run(path, build_model=False)
    if run.task_name != "supervised":
        raise SpherecodeError(f"Checkpoint '{run.path}' is {run.describe()}: it has no classifier to evaluate; "
                              "measure its features with `spherecode geometry` (k-NN and linear probe).")
    if run.model is None:
        run = load_run(run.path, dev)
    model, task, cfg = run.model, run.task, run.config
    model.to(dev)
    spec = data or cfg.data.spec
    base = build_dataset(spec, split)
    n_classes = run.data.num_classes
    if base.num_classes != n_classes:
        raise SpherecodeError(f"Argument '--data': '{spec}' has {base.num_classes} classes but the checkpoint was trained "
                              f"on {n_classes}.")
    loader = make_loader(task.eval_dataset(base), batch_size, shuffle=False, workers=workers,
                         pin_memory=dev.type == "cuda", pad=False)
    return evaluate_model(model, loader, n_classes, dev, base.class_names, resolve_amp(amp, dev), top_pairs)
