r"""Relabelling: choose which class gets which prototype .

A labelling is a permutation :math:`\pi` stored in the codebook: class ``y`` uses row
``permutation[y]`` of ``vectors`` (``Codebook.prototypes`` applies it). Relabelling never changes
the set of vectors, so the separation is unchanged.

Strategies (:data:`STRATEGIES`, each ``f(codebook, **inputs) -> permutation``):

* ``identity``: class y uses row y;
* ``random``: a uniformly random permutation (``seed``);
* ``assignment``: class-mean embeddings ``means`` -> linear assignment (:mod:`.assignment`);
* ``semantic``: a class ``similarity`` or ``hierarchy`` -> quadratic assignment (:mod:`.semantic`).

The learned strategy is a torch module trained with the network (:mod:`.learned`, imported on
demand so that this package does not import torch).

Examples:
    >>> from spherecode import Codebook
    >>> cb = Codebook(np.vstack([np.eye(2), -np.eye(2)]))
    >>> s = np.kron(np.eye(2), np.ones((2, 2)))[np.ix_([0, 2, 1, 3], [0, 2, 1, 3])]
    >>> out = relabel(cb, "semantic", similarity=s)
    >>> out.permutation is not None, out.max_cosine == cb.max_cosine
    (True, True)
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np

from ..codebook import Codebook, as_codebook
from ..errors import SpherecodeError, check_choice
from ..files import check_array
from .assignment import assignment_permutation, assignment_score
from .hierarchy import (
    BUILTIN_HIERARCHIES,
    cifar100_hierarchy,
    classes_of,
    glyphs_hierarchy,
    hierarchy_similarity,
    load_hierarchy,
    load_similarity,
    random_hierarchy,
    sibling_mask,
)
from .metrics import LabellingReport, labelling_report, qap_objective, spearman_similarity_cosine
from .semantic import SemanticResult, random_permutation, semantic_permutation


def _identity(codebook: Codebook, **_: Any) -> np.ndarray:
    return np.arange(codebook.n, dtype=np.int64)


def _random(codebook: Codebook, *, seed: int = 0, **_: Any) -> np.ndarray:
    return random_permutation(codebook.n, seed)


def _assignment(codebook: Codebook, *, means: np.ndarray | None = None, normalize: bool = False, **_: Any) -> np.ndarray:
    if means is None:
        raise SpherecodeError("Strategy 'assignment' needs class-mean embeddings: pass means=(N, d) array (--means FILE).")
    return assignment_permutation(means, codebook, normalize=normalize)


def _semantic(codebook: Codebook, *, similarity: np.ndarray | None = None, seed: int = 0,
              means: Any = None, **options: Any) -> np.ndarray:
    if similarity is None:
        raise SpherecodeError("Strategy 'semantic' needs a class similarity: pass similarity= or hierarchy= "
                              "(--hierarchy NAME|FILE or --similarity FILE).")
    start = codebook.permutation
    return semantic_permutation(similarity, codebook, seed=seed, start=start, **options).permutation


#: Relabelling strategies by name: ``f(codebook, **inputs) -> permutation`` (class y -> row pi[y]).
STRATEGIES: dict[str, Callable[..., np.ndarray]] = {
    "identity": _identity,
    "random": _random,
    "assignment": _assignment,
    "semantic": _semantic,
}


#: Extra keyword options each strategy accepts through :func:`relabel`.
_OPTIONS: dict[str, tuple[str, ...]] = {
    "assignment": ("normalize",),
    "semantic": tuple(p for p in inspect.signature(semantic_permutation).parameters
                      if p not in ("similarity", "codebook", "seed", "start")),
}


def similarity_for(codebook_n: int, hierarchy: nx.DiGraph | None = None, similarity: np.ndarray | None = None,
                   classes: list[str] | None = None) -> np.ndarray | None:
    """The (N, N) similarity from an explicit matrix or a hierarchy, checked against N classes."""
    from .hierarchy import check_similarity

    if similarity is not None and hierarchy is not None:
        raise SpherecodeError("Give either 'similarity' or 'hierarchy', not both.")
    if hierarchy is not None:
        names = classes_of(hierarchy) if classes is None else classes
        if len(names) != codebook_n:
            raise SpherecodeError(f"Argument 'hierarchy' has {len(names)} classes but the codebook has N = {codebook_n} prototypes.")
        return hierarchy_similarity(hierarchy, names)
    if similarity is not None:
        return check_similarity(similarity, codebook_n)
    return None


def relabel(codebook: Codebook | str | os.PathLike[str] | np.ndarray, strategy: str = "semantic", *, similarity: np.ndarray | None = None,
            hierarchy: nx.DiGraph | None = None, means: np.ndarray | None = None, seed: int = 0,
            **options: Any) -> Codebook:
    """A copy of ``codebook`` whose permutation is chosen by ``strategy`` (a key of :data:`STRATEGIES`).

    Args:
        codebook: the codebook (or its file path, or an (N, d) array); its vectors are kept, only the permutation changes. For
            ``semantic`` its current permutation is the start labelling.
        strategy: ``identity``, ``random``, ``assignment`` or ``semantic``.
        similarity: (N, N) class similarity (``semantic``).
        hierarchy: a class hierarchy (networkx tree, :mod:`.hierarchy`; or a built-in name or a file
            for :func:`.hierarchy.load_hierarchy`) instead of ``similarity``.
        means: (N, d) class-mean embeddings (``assignment``).
        seed: random seed (``random``, ``semantic``).
        **options: passed to the strategy (e.g. ``restarts``, ``kicks``, ``time_limit`` for semantic).
    """
    check_choice("strategy", strategy, STRATEGIES)
    valid = _OPTIONS.get(strategy, ())
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise SpherecodeError(f"Strategy '{strategy}' has no option {', '.join(map(repr, unknown))}; "
                              f"valid options: {', '.join(valid) or 'none'}.")
    codebook = as_codebook(codebook)
    if codebook.n < 2:
        raise SpherecodeError("Argument 'codebook' has one prototype: there is nothing to relabel.")
    if hierarchy is not None and not isinstance(hierarchy, nx.DiGraph):
        if not isinstance(hierarchy, (str, os.PathLike)):
            raise SpherecodeError(f"Argument 'hierarchy' must be a networkx DiGraph, a built-in name "
                                  f"({', '.join(BUILTIN_HIERARCHIES)}) or a file path, not {type(hierarchy).__name__}.")
        hierarchy = load_hierarchy(hierarchy)
    if means is not None:
        means = check_array(means, "means", ndim=2)
    sim = similarity_for(codebook.n, hierarchy, similarity)
    perm = STRATEGIES[strategy](codebook, similarity=sim, means=means, seed=seed, **options)
    return codebook.with_permutation(perm)


__all__ = [
    "STRATEGIES",
    "LabellingReport",
    "SemanticResult",
    "assignment_permutation",
    "assignment_score",
    "cifar100_hierarchy",
    "classes_of",
    "glyphs_hierarchy",
    "hierarchy_similarity",
    "labelling_report",
    "load_hierarchy",
    "load_similarity",
    "qap_objective",
    "random_hierarchy",
    "random_permutation",
    "relabel",
    "semantic_permutation",
    "sibling_mask",
    "spearman_similarity_cosine",
]
