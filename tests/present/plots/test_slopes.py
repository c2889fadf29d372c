"""bayeshier.present.plots.slopes: the two-dimensional shrinkage plot."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.patches import Ellipse
from matplotlib.text import Annotation
from reference_cases import fitted_case
from scipy import stats

from bayeshier import compare, plots
from bayeshier.errors import DataError


@pytest.fixture(scope="module")
def slope_cmp():
    return compare(fitted_case("sleepstudy_slopes"))


def test_one_arrow_per_subject_from_own_lm_to_blup(slope_cmp):
    fig = plots.shrinkage_2d(slope_cmp, labels=False)
    ax = fig.axes[0]
    arrows = [a for a in ax.texts if isinstance(a, Annotation) and a.arrow_patch is not None]
    assert len(arrows) == 18
    x = slope_cmp.group_block("Subject", "level", "Intercept")
    y = slope_cmp.group_block("Subject", "level", "Days")
    starts = sorted((round(a.xyann[0], 6), round(a.xyann[1], 6)) for a in arrows)
    ends = sorted((round(a.xy[0], 6), round(a.xy[1], 6)) for a in arrows)
    own = zip(x["no_pooling"].round(6), y["no_pooling"].round(6), strict=True)
    blup = zip(x["blup"].round(6), y["blup"].round(6), strict=True)
    assert starts == sorted(own)
    assert ends == sorted(blup)


def test_ellipses_are_the_reml_population_covariance(slope_cmp):
    fig = plots.shrinkage_2d(slope_cmp)
    ellipses = [p for p in fig.axes[0].patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 2
    fit = slope_cmp.fit
    covariance = fit.covariances["Subject"].to_numpy()
    largest = np.linalg.eigvalsh(covariance)[-1]
    for ellipse, mass in zip(ellipses, (0.5, 0.95), strict=True):
        assert ellipse.center == pytest.approx((fit.fixef["Intercept"], fit.fixef["Days"]))
        expected = 2 * np.sqrt(stats.chi2.ppf(mass, 2) * largest)
        assert max(ellipse.width, ellipse.height) == pytest.approx(expected)


def test_intercept_only_model_is_refused_with_a_pointer():
    with pytest.raises(DataError, match="shrinkage_arrows"):
        plots.shrinkage_2d(compare(fitted_case("sleepstudy_intercept")))
    with pytest.raises(DataError, match="terms must be two of"):
        plots.shrinkage_2d(compare(fitted_case("sleepstudy_slopes")), terms=("Days", "x"))
