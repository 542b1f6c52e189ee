r"""Evaluate a trained representation from its checkpoint: geometry, k-NN and a linear probe.

Works for both kinds of run: a pretraining checkpoint (features: the frozen backbone) and a
supervised one (features: the encoder's output, i.e. the embedding matched against the
prototypes). Features of the train split (evaluation transform) serve as the k-NN memory and the
probe's training set; the ``split`` features are classified and measured
(:func:`spherecode.geometry.geometry_report` with the class labels).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..geometry import GeometryReport, geometry_report, pair_cosine_histograms
from .checkpoint import Run, load_run
from .knn import ProbeResult, extract_features, knn_accuracy, linear_probe


@dataclass(frozen=True)
class RepresentationReport:
    geometry: GeometryReport
    knn: dict[str, float]
    probe: ProbeResult | None
    histogram: dict[str, Any]
    task: str

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"task": self.task, **self.geometry.to_dict(),
                               "knn_top1": self.knn["top1"], "knn_top5": self.knn["top5"]}
        if self.probe is not None:
            out.update({"probe_top1": self.probe.top1, "probe_top5": self.probe.top5,
                        "probe_train_top1": self.probe.train_top1})
        return out

    def format(self) -> str:
        lines = [self.geometry.format(), f"k-NN top-1 / top-5: {100 * self.knn['top1']:.2f}% / {100 * self.knn['top5']:.2f}%"]
        if self.probe is not None:
            lines.append(f"linear probe top-1 / top-5: {100 * self.probe.top1:.2f}% / {100 * self.probe.top5:.2f}% "
                         f"({self.probe.epochs} epochs; train top-1 {100 * self.probe.train_top1:.2f}%)")
        return "\n".join(lines)


class _Features(nn.Module):
    def __init__(self, model: nn.Module, task: str) -> None:
        super().__init__()
        self.model, self.task = model, task

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.features(x) if self.task == "pretrain" else self.model.encoder(x)


def load_feature_model(checkpoint: str | Path | Run, data: str | None = None) -> tuple[nn.Module, Any, str]:
    """(feature extractor in eval mode on CPU, config, data spec) from a training or pretraining checkpoint."""
    run = checkpoint if isinstance(checkpoint, Run) else load_run(checkpoint)
    if run.model is None:
        run = load_run(run.path)
    return _Features(run.model, run.task_name).eval(), run.config, data or run.config.data.spec


def evaluate_representation(checkpoint: str | Path | Run, data: str | None = None, split: str = "test",
                            device: str = "cpu", batch_size: int = 256, workers: int = 0, knn_k: int = 200,
                            knn_temperature: float = 0.1, probe_epochs: int = 100, bins: int = 100,
                            probe_lr: float = 1e-2, probe_weight_decay: float = 0.0,
                            probe_batch_size: int = 256) -> RepresentationReport:
    """Geometry of the ``split`` features with their labels, k-NN and linear-probe accuracy.

    The probe (:func:`~spherecode.train.knn.linear_probe`: AdamW, cosine schedule, standardised
    features) trains ``probe_epochs`` epochs (0: no probe) with ``probe_lr``, ``probe_weight_decay``
    and ``probe_batch_size``.
    """
    from ..data.dataset import AugmentedDataset
    from ..data.loader import make_loader
    from ..data.spec import build_dataset
    from .distributed import resolve_device
    from .evaluate import check_eval_arguments

    check_eval_arguments(split, batch_size, workers)
    dev = resolve_device(device)
    model, config, spec = load_feature_model(checkpoint, data)
    model.to(dev)
    feats = {}
    for name in ("train", split):
        ds = build_dataset(spec, name)
        loader = make_loader(AugmentedDataset(ds, ds.eval_transform()), batch_size, shuffle=False, workers=workers, pad=False)
        feats[name] = extract_features(model, loader, dev, progress=f"features of the {name} split")
    (xtr, ytr), (xte, yte) = feats["train"], feats[split]
    classes = int(max(ytr.max(), yte.max())) + 1
    knn = knn_accuracy(xtr, ytr, xte, yte, k=knn_k, temperature=knn_temperature, num_classes=classes)
    probe = linear_probe(xtr, ytr, xte, yte, num_classes=classes, epochs=probe_epochs, lr=probe_lr,
                         weight_decay=probe_weight_decay, batch_size=probe_batch_size) if probe_epochs else None
    labels = yte.numpy()
    return RepresentationReport(geometry=geometry_report(xte, labels), knn=knn, probe=probe,
                                histogram=pair_cosine_histograms(xte, labels, bins=bins), task=config.run.task)
