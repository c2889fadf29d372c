"""The one credible-interval convention of the comparison tables, their text and the plots.

ArviZ 1.x users read posterior intervals in ``az.summary``, whose defaults are
the rcParams ``stats.ci_prob`` (0.89) and ``stats.ci_kind`` (``"eti"``, an
equal-tailed interval). :func:`resolve_interval` reads them when it is called
(so ``az.rc_context`` and ``az.rcParams[...] = ...`` apply), lets a caller
override either, and keeps ``hdi_prob=`` (bayeshier's former argument) as an
alias meaning ``ci_kind="hdi"``. :meth:`CredibleInterval.bounds` computes the
interval with ArviZ's own :func:`arviz_stats.eti` / :func:`arviz_stats.hdi`,
so the numbers are those ``az.summary`` prints (columns ``eti89_lb``,
``eti89_ub`` there; ``ci_low``, ``ci_high`` here).

ArviZ is imported only when an interval is resolved or computed:
``import bayeshier`` does not load it.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast, get_args

from bayeshier.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import xarray as xr

__all__ = ["CI_KINDS", "CiKind", "CredibleInterval", "interval_label", "resolve_interval"]

#: The kinds of credible interval: equal-tailed or highest-density.
CiKind = Literal["eti", "hdi"]
CI_KINDS: tuple[str, ...] = get_args(CiKind)


@dataclass(frozen=True)
class CredibleInterval:
    """A credible interval's probability and kind, e.g. 0.89 and ``"eti"``.

    Attributes
    ----------
    prob : float
        Probability mass inside the interval, in (0, 1).
    kind : {"eti", "hdi"}
        Equal-tailed (quantiles ``(1 - prob)/2`` and ``(1 + prob)/2``) or
        highest-density interval.

    """

    prob: float
    kind: CiKind

    @property
    def label(self) -> str:
        """How headers, legends and captions name it: ``"89% ETI"``, ``"94% HDI"``."""
        return interval_label(self.prob, self.kind)

    def bounds(self, draws: xr.DataArray, dims: Sequence[str]) -> xr.DataArray:
        """The interval of ``draws`` over ``dims``, by ArviZ (dimension ``ci_bound``).

        Parameters
        ----------
        draws : xarray.DataArray
            Posterior draws.
        dims : sequence of str
            The sample dimensions (``chain``, ``draw``).

        Returns
        -------
        xarray.DataArray
            The other dimensions of ``draws`` and ``ci_bound`` (``"lower"``, ``"upper"``).

        """
        import arviz_stats  # ArviZ 1.x's statistics; importing it takes about a second

        compute = arviz_stats.eti if self.kind == "eti" else arviz_stats.hdi
        return compute(draws, prob=self.prob, dim=list(dims))


def interval_label(prob: float, kind: str) -> str:
    """``"89% ETI"`` for (0.89, "eti"); fractional percentages keep digits: ``"89.5% ETI"``."""
    return f"{100 * prob:.4g}% {kind.upper()}"


def resolve_interval(
    ci_prob: float | None = None, ci_kind: str | None = None, hdi_prob: float | None = None
) -> CredibleInterval:
    """The interval to report: the arguments given, ArviZ's rcParams for the others.

    Parameters
    ----------
    ci_prob : float, optional
        Probability mass (default ``arviz.rcParams["stats.ci_prob"]``, 0.89
        unless changed).
    ci_kind : {"eti", "hdi"}, optional
        Kind (default ``arviz.rcParams["stats.ci_kind"]``, ``"eti"`` unless changed).
    hdi_prob : float, optional
        The former argument: ``hdi_prob=p`` means ``ci_prob=p, ci_kind="hdi"``.

    Returns
    -------
    CredibleInterval

    Raises
    ------
    DataError
        A probability outside (0, 1), an unknown kind, or ``hdi_prob`` given
        with a different ``ci_prob`` or with ``ci_kind="eti"``.

    """
    if hdi_prob is not None:
        _check_prob(hdi_prob, "hdi_prob")
        if ci_kind not in (None, "hdi") or ci_prob not in (None, hdi_prob):
            raise DataError(
                f"hdi_prob={hdi_prob!r} means ci_prob={hdi_prob!r}, ci_kind='hdi', but "
                f"ci_prob={ci_prob!r}, ci_kind={ci_kind!r} were also given: pass either "
                "hdi_prob alone or ci_prob and ci_kind."
            )
        ci_prob, ci_kind = hdi_prob, "hdi"
    if ci_prob is None or ci_kind is None:
        from arviz_base import rcParams  # ArviZ 1.x's settings, read at call time

        ci_prob = rcParams["stats.ci_prob"] if ci_prob is None else ci_prob
        ci_kind = rcParams["stats.ci_kind"] if ci_kind is None else ci_kind
    _check_prob(ci_prob, "ci_prob")
    if ci_kind not in CI_KINDS:
        raise DataError(
            f"ci_kind must be 'eti' (equal-tailed) or 'hdi' (highest density), got {ci_kind!r}."
        )
    return CredibleInterval(float(ci_prob), cast("CiKind", ci_kind))


def _check_prob(prob: object, name: str) -> None:
    if isinstance(prob, numbers.Real) and not isinstance(prob, bool) and 0.0 < float(prob) < 1.0:
        return
    raise DataError(
        f"{name} must be a probability between 0 and 1 (e.g. 0.89 for 89%), got {prob!r}."
    )
