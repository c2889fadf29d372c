"""bayeshier.present.saved: a posterior saved with to_netcdf / to_zarr, reopened and compared.

The DataTrees are :func:`synthetic.synthetic_posterior`'s (no sampler), whose
``constant_data`` is the reference layout of what ``Model.sample`` writes.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from reference_cases import FIXTURES, fitted_case, load_reference
from synthetic import synthetic_posterior

from bayeshier import datasets, fit_reml
from bayeshier.errors import DataError, ModelError
from bayeshier.present.comparison import compare
from bayeshier.present.saved import plain_text, read_posterior, refit, saved_frame

MPG_FORMULA = "hwy ~ displ + year + (1|class)"


@pytest.fixture(scope="module")
def mpg_saved() -> xr.DataTree:
    """The synthetic mpg posterior with its ``constant_data``, as Model.sample returns it."""
    return synthetic_posterior(fitted_case("mpg_class"), data=datasets.load("mpg"))


#: zarr 3's note on consolidated metadata, which ``import bayeshier.bayes`` silences
#: (tested there); pytest resets the warning filters set while collecting.
ZARR_NOTE = "Consolidated metadata is currently not part in the Zarr format 3"


def _save_and_reopen(tree: xr.DataTree, path, how: str) -> xr.DataTree:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # saving prints nothing
        warnings.filterwarnings("ignore", message=ZARR_NOTE)
        if how == "netcdf":
            tree.to_netcdf(path / "posterior.nc")
            return xr.open_datatree(path / "posterior.nc")
        tree.to_zarr(path / "posterior.zarr")
        return xr.open_datatree(path / "posterior.zarr", engine="zarr")


@pytest.mark.parametrize("how", ["netcdf", "zarr"])
def test_a_saved_and_reloaded_analysis_compares(mpg_saved, tmp_path, how):
    fit = fitted_case("mpg_class")
    reloaded = _save_and_reopen(mpg_saved, tmp_path, how)
    before = compare(fit, mpg_saved)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        after = compare(fit, reloaded)
        alone = compare(idata=reloaded)
    for name in ("fixed", "groups", "variances"):
        pd.testing.assert_frame_equal(getattr(after, name), getattr(before, name))
    # the REML fit rebuilt from constant_data is lme4's
    reference = load_reference("mpg_class")
    for term, value in reference["fixef"].items():
        assert alone.fit.fixef[term] == pytest.approx(value, rel=1e-5)
    assert alone.fit.sigma == pytest.approx(reference["sigma"], rel=1e-5)
    assert list(alone.fit.spec.factors[0].levels) == list(fit.spec.factors[0].levels)
    pd.testing.assert_frame_equal(alone.groups, before.groups)
    assert alone.interval_label == "89% ETI"


WEIGHTED_CASES = {
    "weights column": ("rform_sleep_weights", "Reaction ~ Days + (1|Subject)", "w", None),
    "weights values": ("rform_sleep_weights", "Reaction ~ Days + (1|Subject)", "values", None),
    "offset term": ("rform_sleep_offset", "Reaction ~ Days + offset(2*Days) + (1|Subject)",
                    None, None),
    "offset expression": ("rform_sleep_offset", "Reaction ~ Days + (1|Subject)", None, "2*Days"),
    "offset values": ("rform_sleep_offset", "Reaction ~ Days + (1|Subject)", None, "values"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(WEIGHTED_CASES))
def test_weights_and_offsets_are_rebuilt_from_the_saved_data(case, tmp_path):
    name, formula, weights, offset = WEIGHTED_CASES[case]
    data = pd.read_csv(FIXTURES / f"{name}.csv").astype({"Subject": str})
    arguments = {}
    if weights is not None:
        arguments["weights"] = data["w"].to_numpy() if weights == "values" else weights
    if offset is not None:
        arguments["offset"] = 2.0 * data["Days"].to_numpy() if offset == "values" else offset
    fit = fit_reml(formula, data, **arguments)
    reloaded = _save_and_reopen(synthetic_posterior(fit, data=data), tmp_path, "netcdf")
    rebuilt = compare(idata=reloaded).fit
    expected = json.loads((FIXTURES / f"{name}.json").read_text())["fixef"]
    np.testing.assert_allclose(rebuilt.fixef.to_numpy(), list(expected.values()), rtol=1e-5)
    assert rebuilt.spec.has_weights == (weights is not None)
    assert rebuilt.spec.has_offset == (offset is not None or "offset(" in formula)


def test_without_constant_data_or_formula_the_fit_is_asked_for(mpg_tree):
    with pytest.raises(ModelError, match=r"has no constant_data group.*compare\(fit_reml\("):
        compare(idata=mpg_tree)
    bare = mpg_tree.copy()
    bare.attrs = {}
    with pytest.raises(ModelError, match="records no formula"):
        compare(idata=bare)
    with pytest.raises(DataError, match="needs a REML fit, a posterior, or both"):
        compare()


def test_saved_data_that_do_not_reproduce_the_fit_are_refused(mpg_saved):
    tampered = mpg_saved.copy()
    constant = tampered["constant_data"].to_dataset()
    tampered["constant_data"] = xr.DataTree(constant.assign(hwy=constant["hwy"] + 1.0))
    with pytest.raises(ModelError, match=r"differs from the fit it was sampled with.*fixef"):
        refit(read_posterior(tampered))
    broken = mpg_saved.copy()
    broken.attrs = {**broken.attrs, "reml": "{not json"}
    with pytest.raises(DataError, match=r"attrs\['reml'\] of the posterior is not JSON"):
        compare(idata=broken)


def test_the_saved_frame_keeps_the_recorded_level_order():
    constant = xr.Dataset(
        {"y": ("obs", [1.0, 2.0, 3.0]), "g": ("obs", np.array(["b", "a", "b"], dtype=object))},
        attrs={"factor_levels": json.dumps({"g": ["b", "a"]})},
    )
    frame = saved_frame(constant)
    assert list(frame["g"].cat.categories) == ["b", "a"]  # not sorted: as the fit had them
    with pytest.raises(DataError, match="not \\('obs',\\)"):
        saved_frame(constant.assign(z=(("obs", "k"), np.zeros((3, 2)))))


def test_text_read_back_as_bytes_becomes_str():
    dataset = xr.Dataset(coords={"fixed": np.array([b"Intercept", b"x"])})
    assert [type(v) for v in plain_text(dataset)["fixed"].to_numpy()] == [str, str]
    same = xr.Dataset(coords={"fixed": ["Intercept", "x"]})
    assert plain_text(same) is same
