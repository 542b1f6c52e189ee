r"""Class hierarchies as networkx trees, and the class similarity they induce.

A hierarchy is a :class:`networkx.DiGraph` that is a rooted tree (an arborescence) with edges
pointing from parent to child; its leaves are the class names. The graph attribute
``G.graph["classes"]`` lists the leaves in label order (class ``y`` is ``classes[y]``).

The similarity of two classes is the depth of their lowest common ancestor (LCA), scaled so that
a leaf at the deepest level is similar to itself with 1:

.. math::
    S_{yy'} = \frac{\operatorname{depth}(\operatorname{lca}(y, y'))}{D}, \qquad
    D = \max_y \operatorname{depth}(y),

(``kind="lca"``), or one minus the tree distance over its largest value
:math:`S_{yy'} = 1 - \operatorname{dist}(y, y') / (2D)` (``kind="path"``). Siblings (classes with
the same parent) are the pairs a relabelling should keep close.

Files a user can give (:func:`load_hierarchy`):

* an **edge list** (any suffix but ``.json``): one ``parent child`` pair per line, separated by
  whitespace, a comma or a tab; ``#`` starts a comment. The classes are the leaves, in label order
  = the order in which they first appear in the file.
* **JSON**: either ``{"classes": [...], "edges": [[parent, child], ...]}``, or
  ``{"classes": [...], "superclasses": {"group": ["class", ...], ...}}`` (one level, like the
  shipped CIFAR-100 file), or a nested object ``{"root": {"group": {"leaf": {}, ...}, ...}}``
  (a leaf is an empty object or a list of leaf names). ``"classes"`` (label order) is optional;
  without it the leaves are taken in the order they first appear.

Examples:
    >>> tree = cifar100_hierarchy()
    >>> classes = tree.graph["classes"]
    >>> classes[42], classes[43], parent_of(tree, "leopard") == parent_of(tree, "lion")
    ('leopard', 'lion', True)
    >>> float(hierarchy_similarity(tree)[42, 43])
    0.5
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from ..errors import SpherecodeError, check_choice, check_int
from ..files import check_array, load_matrix, parse_json, read_text

#: Names of the hierarchies shipped with spherecode (``--hierarchy NAME``).
BUILTIN_HIERARCHIES = ("cifar100", "glyphs")
SIMILARITY_KINDS = ("lca", "path")
ROOT = "<root>"


# ----------------------------------------------------------------------------- construction
def hierarchy_from_edges(edges: Iterable[tuple[Any, Any]], classes: Sequence[str] | None = None,
                         source: str = "hierarchy") -> nx.DiGraph:
    """A hierarchy tree from ``(parent, child)`` edges; ``classes`` fixes the label order.

    Raises :class:`SpherecodeError` if the edges do not form one rooted tree, or if ``classes``
    does not match its leaves.
    """
    tree = nx.DiGraph()
    order: list[str] = []
    for parent, child in edges:
        parent, child = str(parent), str(child)
        for node in (parent, child):
            if node not in tree:
                order.append(node)
        tree.add_edge(parent, child)
    if tree.number_of_nodes() == 0:
        raise SpherecodeError(f"{source}: the hierarchy has no edges.")
    if not nx.is_arborescence(tree):
        roots = [v for v in tree if tree.in_degree(v) == 0]
        multi = [v for v in tree if tree.in_degree(v) > 1]
        why = (f"nodes with several parents: {', '.join(multi[:5])}" if multi
               else f"{len(roots)} roots ({', '.join(roots[:5])})" if len(roots) != 1 else "it has a cycle")
        raise SpherecodeError(f"{source}: the hierarchy must be a single rooted tree; {why}.")
    leaves = [v for v in order if tree.out_degree(v) == 0]
    if classes is None:
        classes = leaves
    else:
        classes = [str(c) for c in classes]
        check_covers(tree, classes, source)
        extra = sorted(set(leaves) - set(classes))
        if extra:
            raise SpherecodeError(f"{source}: leaves {_few(extra)} are not in the class list; "
                                  "every leaf of the hierarchy must be a class.")
    tree.graph["classes"] = list(classes)
    tree.graph["root"] = next(v for v in tree if tree.in_degree(v) == 0)
    return tree


def hierarchy_from_groups(groups: dict[str, Sequence[str]], classes: Sequence[str] | None = None,
                          root: str = ROOT, source: str = "hierarchy") -> nx.DiGraph:
    """A two-level tree: ``root -> group -> class`` for each ``group: [classes]`` entry."""
    edges = [(root, g) for g in groups] + [(g, c) for g, members in groups.items() for c in members]
    return hierarchy_from_edges(edges, classes, source)


def cifar100_hierarchy() -> nx.DiGraph:
    """CIFAR-100's 20 superclasses of 5 classes; leaves are the 100 fine names in label order."""
    data = json.loads(resources.files(__package__).joinpath("cifar100.json").read_text(encoding="utf-8"))
    return hierarchy_from_groups(data["superclasses"], data["classes"], root="cifar100", source="cifar100")


#: The 100 classes of the ``glyphs`` set (:mod:`spherecode.data.glyphs`) as a tree
#: script -> group -> class; the label order is the order of this table. A group is a letter with
#: its cases, joined by the glyphs that look like it: the Greek lowercase letters whose capitals are
#: the Latin ones (alpha under A, ...) and the digits that pass for letters (zero under O, one under
#: I, two under Z, five under S, eight under B). Greek letters identical to Latin ones (Alpha = A,
#: omicron = o, nu ~ v, ...) are not classes.
GLYPH_TREE: dict[str, dict[str, tuple[str, ...]]] = {
    "latin": {
        "A/a": ("A", "a", "alpha"), "B/b": ("B", "b", "beta", "eight"), "C/c": ("C", "c"), "D/d": ("D", "d"),
        "E/e": ("E", "e", "epsilon"), "F/f": ("F", "f"), "G/g": ("G", "g"), "H/h": ("H", "h", "eta"),
        "I/i": ("I", "i", "one"), "J/j": ("J", "j"), "K/k": ("K", "k"), "L/l": ("L", "l"),
        "M/m": ("M", "m", "mu"), "N/n": ("N", "n"), "O/o": ("O", "o", "zero"), "P/p": ("P", "p", "rho"),
        "Q/q": ("Q", "q"), "R/r": ("R", "r"), "S/s": ("S", "s", "five"), "T/t": ("T", "t", "tau"),
        "U/u": ("U", "u"), "V/v": ("V", "v"), "W/w": ("W", "w"), "X/x": ("X", "x"), "Y/y": ("Y", "y"),
        "Z/z": ("Z", "z", "zeta", "two"),
    },
    "greek": {
        "Gamma/gamma": ("Gamma", "gamma"), "Delta/delta": ("Delta", "delta"), "Theta/theta": ("Theta", "theta"),
        "Lambda/lambda": ("Lambda", "lambda"), "Xi/xi": ("Xi", "xi"), "Pi/pi": ("Pi", "pi"),
        "Sigma/sigma": ("Sigma", "sigma"), "Phi/phi": ("Phi", "phi"), "Psi/psi": ("Psi", "psi"),
        "Omega/omega": ("Omega", "omega"),
    },
    "digits": {"round digits": ("six", "nine"), "open digits": ("three", "four", "seven")},
    "symbols": {"arithmetic": ("plus", "equal", "asterisk", "percent"), "punctuation": ("question", "exclam"),
                "signs": ("ampersand", "numbersign", "at", "dollar")},
}


def glyphs_hierarchy() -> nx.DiGraph:
    """The ``glyphs`` class tree (:data:`GLYPH_TREE`): root -> script -> group -> class, label order.

    >>> tree = glyphs_hierarchy()
    >>> classes = tree.graph["classes"]
    >>> len(classes), classes[:4], parent_of(tree, "zero")
    (100, ['A', 'a', 'alpha', 'B'], 'O/o')
    """
    edges = [("glyphs", script) for script in GLYPH_TREE]
    edges += [(script, group) for script, groups in GLYPH_TREE.items() for group in groups]
    edges += [(group, c) for groups in GLYPH_TREE.values() for group, members in groups.items() for c in members]
    classes = [c for groups in GLYPH_TREE.values() for members in groups.values() for c in members]
    return hierarchy_from_edges(edges, classes, source="glyphs")


def random_hierarchy(n_classes: int, depth: int, branching: int | None = None, *, seed: int = 0,
                     shuffle: bool = True) -> nx.DiGraph:
    """A random tree with ``n_classes`` leaves, all at ``depth`` below the root.

    Every internal node splits its leaves into about ``branching`` random, non-empty groups
    (default: :math:`\\lceil N^{1/depth} \\rceil`). With ``shuffle`` the label order is a random
    permutation of the tree order, as alphabetical labels are for a real hierarchy.

    >>> t = random_hierarchy(30, 3, seed=1)
    >>> len(t.graph["classes"]), max(nx.shortest_path_length(t, t.graph["root"]).values())
    (30, 3)
    """
    n_classes = check_int("n_classes", n_classes, minimum=2)
    depth = check_int("depth", depth, minimum=1)
    if branching is None:
        branching = max(2, int(np.ceil(n_classes ** (1.0 / depth) - 1e-9)))
    branching = check_int("branching", branching, minimum=2)
    rng = np.random.default_rng(seed)
    leaves = [f"c{i:0{len(str(n_classes - 1))}d}" for i in range(n_classes)]
    edges: list[tuple[str, str]] = []
    counter = [0]

    def split(node: str, members: list[str], level: int) -> None:
        if level == depth - 1:
            edges.extend((node, leaf) for leaf in members)
            return
        k = min(branching, len(members))
        cuts = np.sort(rng.choice(np.arange(1, len(members)), size=k - 1, replace=False)) if k > 1 else []
        for part in np.split(np.array(members, dtype=object), cuts):
            counter[0] += 1
            child = f"g{counter[0]}"
            edges.append((node, child))
            split(child, list(part), level + 1)

    split("root", leaves, 0)
    classes = list(rng.permutation(leaves)) if shuffle else leaves
    return hierarchy_from_edges(edges, classes, source="random_hierarchy")


# ------------------------------------------------------------------------------------ files
def load_hierarchy(path: str | os.PathLike[str], classes: Sequence[str] | None = None) -> nx.DiGraph:
    """Read a hierarchy: a built-in name (``"cifar100"``, ``"glyphs"``), an edge-list file or a JSON file.

    See the module docstring for the formats. Raises :class:`SpherecodeError` for a missing or
    malformed file.
    """
    if str(path) in BUILTIN_HIERARCHIES:
        tree = cifar100_hierarchy() if str(path) == "cifar100" else glyphs_hierarchy()
        if classes is not None:
            check_covers(tree, classes, str(path))
        return tree
    p = Path(path)
    if not p.exists():
        raise SpherecodeError(f"Argument 'hierarchy': file '{p}' does not exist "
                              f"(or give a built-in name: {', '.join(BUILTIN_HIERARCHIES)}).")
    text = read_text(p, "hierarchy", what="hierarchy file")
    src = f"hierarchy file '{p}'"
    if p.suffix.lower() == ".json":
        return _from_json(parse_json(text, src), classes, src)
    edges = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [s.strip() for s in line.replace(",", " ").replace("\t", " ").split()]
        if len(parts) != 2:
            raise SpherecodeError(f"{src}, line {lineno}: expected 'parent child', got {line!r}.")
        edges.append((parts[0], parts[1]))
    return hierarchy_from_edges(edges, classes, src)


def _from_json(data: Any, classes: Sequence[str] | None, src: str) -> nx.DiGraph:
    if not isinstance(data, dict) or not data:
        raise SpherecodeError(f"{src}: expected a JSON object with 'edges', 'superclasses' or a nested tree.")
    if classes is None and "classes" in data:
        classes = data["classes"]
    if "edges" in data:
        edges = data["edges"]
        if not all(isinstance(e, (list, tuple)) and len(e) == 2 for e in edges):
            raise SpherecodeError(f"{src}: 'edges' must be a list of [parent, child] pairs.")
        return hierarchy_from_edges(edges, classes, src)
    if "superclasses" in data:
        groups = data["superclasses"]
        if not isinstance(groups, dict):
            raise SpherecodeError(f"{src}: 'superclasses' must map each group to a list of classes.")
        return hierarchy_from_groups(groups, classes, source=src)
    nested = {k: v for k, v in data.items() if k not in ("classes", "name", "description")}
    if len(nested) != 1:
        raise SpherecodeError(f"{src}: a nested tree needs exactly one root key, found {len(nested)}.")
    edges: list[tuple[str, str]] = []

    def walk(node: str, children: Any) -> None:
        if isinstance(children, dict):
            for child, sub in children.items():
                edges.append((node, child))
                walk(child, sub)
        elif isinstance(children, list):
            edges.extend((node, str(c)) for c in children)
        elif children not in (None, {}):
            raise SpherecodeError(f"{src}: node {node!r} must map to an object or a list, not {children!r}.")

    root, children = next(iter(nested.items()))
    walk(root, children)
    return hierarchy_from_edges(edges, classes, src)


def load_similarity(path: str | os.PathLike[str], n: int | None = None) -> np.ndarray:
    """Read a class-similarity matrix from ``.npy`` or ``.csv`` (comma separated, no header).

    The matrix must be square, finite and symmetric (within 1e-8); ``n`` checks its size.
    """
    p = Path(path)
    s = load_matrix(p, "similarity", what="similarity matrix")
    return check_similarity(s, n, name=f"similarity file '{p}'")


def check_similarity(s: Any, n: int | None = None, name: str = "similarity") -> np.ndarray:
    """Return ``s`` as a float (N, N) symmetric finite matrix, or raise naming the problem."""
    s = check_array(s, name)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise SpherecodeError(f"Argument '{name}' must be a square (N, N) matrix, not shape {s.shape}.")
    if n is not None and s.shape[0] != n:
        raise SpherecodeError(f"Argument '{name}' is {s.shape[0]} x {s.shape[1]} but the codebook has N = {n} classes.")
    if not np.all(np.isfinite(s)):
        raise SpherecodeError(f"Argument '{name}' contains NaN or infinite entries.")
    if not np.allclose(s, s.T, atol=1e-8):
        raise SpherecodeError(f"Argument '{name}' must be symmetric (S[y, y'] = S[y', y]).")
    return (s + s.T) / 2


# ------------------------------------------------------------------------------ similarity
def check_covers(tree: nx.DiGraph, classes: Sequence[str], source: str = "hierarchy") -> None:
    """Raise unless every class in ``classes`` is a leaf of ``tree`` (and they are distinct)."""
    classes = [str(c) for c in classes]
    dup = sorted({c for c in classes if classes.count(c) > 1}) if len(set(classes)) != len(classes) else []
    if dup:
        raise SpherecodeError(f"{source}: repeated class names {_few(dup)}.")
    missing = [c for c in classes if c not in tree or tree.out_degree(c) != 0]
    if missing:
        raise SpherecodeError(f"{source} does not cover the classes: {len(missing)} not found as leaves "
                              f"({_few(missing)}).")


def classes_of(tree: nx.DiGraph) -> list[str]:
    """The class names of a hierarchy in label order."""
    if "classes" in tree.graph:
        return list(tree.graph["classes"])
    return [v for v in tree if tree.out_degree(v) == 0]


def _root(tree: nx.DiGraph) -> Any:
    return tree.graph.get("root") or next(v for v in tree if tree.in_degree(v) == 0)


def ancestor_table(tree: nx.DiGraph, classes: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(A, depth)``: ``A[k, y]`` an integer id of class y's ancestor at depth k (0 = root) or -1-y
    below the class's own depth (never shared), and ``depth[y]``."""
    classes = classes_of(tree) if classes is None else [str(c) for c in classes]
    check_covers(tree, classes)
    root = _root(tree)
    paths = nx.single_source_shortest_path(tree, root)
    ids = {v: i for i, v in enumerate(tree)}
    depth = np.array([len(paths[c]) - 1 for c in classes], dtype=np.int64)
    table = np.empty((int(depth.max()) + 1, len(classes)), dtype=np.int64)
    for y, c in enumerate(classes):
        path = [ids[v] for v in paths[c]]
        table[:, y] = -1 - y
        table[: len(path), y] = path
    return table, depth


def lca_depth(tree: nx.DiGraph, classes: Sequence[str] | None = None) -> np.ndarray:
    r"""The (N, N) matrix of :math:`\operatorname{depth}(\operatorname{lca}(y, y'))` (root depth 0)."""
    table, _ = ancestor_table(tree, classes)
    n = table.shape[1]
    out = np.zeros((n, n), dtype=np.int64)
    alive = np.ones((n, n), dtype=bool)
    for k in range(1, table.shape[0]):  # a shared ancestor at depth k implies shared at all k' < k
        alive &= table[k][:, None] == table[k][None, :]
        out += alive
    return out


def hierarchy_similarity(tree: nx.DiGraph, classes: Sequence[str] | None = None, kind: str = "lca") -> np.ndarray:
    r"""Class similarity from a hierarchy (module docstring): ``"lca"`` depth or ``"path"`` distance."""
    check_choice("kind", kind, SIMILARITY_KINDS)
    lca = lca_depth(tree, classes).astype(np.float64)
    _, depth = ancestor_table(tree, classes)
    big = float(depth.max())
    if kind == "lca":
        return lca / big
    dist = depth[:, None] + depth[None, :] - 2 * lca
    return 1.0 - dist / (2 * big)


def parent_of(tree: nx.DiGraph, node: str) -> Any:
    """The parent of ``node`` (None for the root)."""
    preds = list(tree.predecessors(node))
    return preds[0] if preds else None


def sibling_mask(tree: nx.DiGraph, classes: Sequence[str] | None = None) -> np.ndarray:
    """Boolean (N, N): true where two distinct classes have the same parent."""
    classes = classes_of(tree) if classes is None else [str(c) for c in classes]
    check_covers(tree, classes)
    ids: dict[Any, int] = {}
    parents = np.array([ids.setdefault(parent_of(tree, c), len(ids)) for c in classes])
    mask = parents[:, None] == parents[None, :]
    np.fill_diagonal(mask, False)
    return mask


def _few(items: Sequence[str], k: int = 5) -> str:
    shown = ", ".join(repr(x) for x in list(items)[:k])
    return shown + (f", ... ({len(items)} in all)" if len(items) > k else "")
