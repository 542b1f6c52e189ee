"""The exceptions a user can meet.

Every mistake a user can make (an impossible size, an unknown method, a corrupt file, a wrong
data path) raises a :class:`SpherecodeError` whose message names the argument, the bad value and
the valid choices. The command line prints that message on one line and exits non-zero.
"""

from __future__ import annotations

from collections.abc import Iterable


class SpherecodeError(ValueError):
    """A user-facing error: the message alone tells the user what to change."""


class CodebookFileError(SpherecodeError):
    """A codebook file is missing, corrupt, or not a spherecode codebook."""


def check_int(name: str, value: object, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise naming the argument.

    >>> check_int("n", 5, minimum=2)
    5
    """
    if isinstance(value, bool) or not isinstance(value, (int,)) and not _is_integral(value):
        raise SpherecodeError(f"Argument '{name}' must be an integer, not {value!r}.")
    value = int(value)  # type: ignore[arg-type]
    if minimum is not None and value < minimum:
        raise SpherecodeError(f"Argument '{name}' must be at least {minimum}, not {value}.")
    if maximum is not None and value > maximum:
        raise SpherecodeError(f"Argument '{name}' must be at most {maximum}, not {value}.")
    return value


def check_choice(name: str, value: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing them."""
    choices = list(choices)
    if value not in choices:
        raise SpherecodeError(
            f"Argument '{name}' must be one of {', '.join(choices)}; got {value!r}."
        )
    return value


def _is_integral(value: object) -> bool:
    try:
        import numpy as np

        return isinstance(value, np.integer)
    except ImportError:  # pragma: no cover
        return False


#: Seeds are 0 <= seed <= MAX_SEED: every generator used (numpy, torch, Python) accepts them.
MAX_SEED = 2**63 - 1


def check_seed(name: str, value: object) -> int:
    """Return ``value`` as a seed (an integer in [0, 2^63 - 1]), or raise naming the argument.

    >>> check_seed("seed", 7)
    7
    """
    return check_int(name, value, minimum=0, maximum=MAX_SEED)
