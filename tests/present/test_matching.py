"""bayeshier.present.matching: compare() refuses a posterior of another model or other rows."""

from __future__ import annotations

import re

import pytest
from synthetic import synthetic_posterior

from bayeshier import datasets, fit_reml
from bayeshier.errors import ModelError
from bayeshier.present.comparison import compare
from bayeshier.present.matching import check_same_model, describe_posterior
from bayeshier.present.saved import SavedPosterior, read_posterior


@pytest.fixture(scope="module")
def sleep():
    return datasets.load("sleepstudy")


def test_a_fit_of_y_1_with_a_posterior_of_y_x_is_refused_naming_both(sleep):
    intercept = fit_reml("Reaction ~ 1 + (1|Subject)", sleep)
    with_days = synthetic_posterior(fit_reml("Reaction ~ Days + (1|Subject)", sleep))
    message = (
        "the REML fit is of 'Reaction ~ 1 + (1|Subject)' on 180 rows; the posterior is of "
        "'Reaction ~ Days + (1|Subject)' on 180 rows. The formulas differ."
    )
    with pytest.raises(ModelError, match=re.escape(message)):
        compare(intercept, with_days)
    # and the other way round: the posterior lacks the fit's term
    with pytest.raises(ModelError, match="The formulas differ"):
        compare(fit_reml("Reaction ~ Days + (1|Subject)", sleep),
                synthetic_posterior(intercept))  # fmt: skip


def test_the_same_formula_on_other_rows_is_refused(sleep):
    fit = fit_reml("Reaction ~ Days + (1|Subject)", sleep)
    fewer = fit_reml("Reaction ~ Days + (1|Subject)", sleep[sleep["Days"] > 0])
    with pytest.raises(ModelError, match=r"numbers of rows differ \(180 vs 162\)"):
        compare(fit, synthetic_posterior(fewer))
    shifted = fit_reml(
        "Reaction ~ Days + (1|Subject)", sleep.assign(Reaction=sleep["Reaction"] * 2)
    )
    with pytest.raises(ModelError, match=r"observed Reaction differ in 180 of 180 rows"):
        compare(fit, synthetic_posterior(shifted))


def test_spacing_of_the_formula_does_not_matter(sleep):
    fit = fit_reml("Reaction ~ Days + (1|Subject)", sleep)
    tree = synthetic_posterior(fit)
    tree.attrs = {**tree.attrs, "formula": "Reaction~Days+(1 | Subject)"}
    assert compare(fit, tree).has_posterior


def test_a_bare_posterior_is_checked_on_variables_and_coordinates(sleep):
    fit = fit_reml("Reaction ~ Days + (1|Subject)", sleep)
    posterior = synthetic_posterior(fit)["posterior"].to_dataset()
    saved = read_posterior(posterior)
    assert describe_posterior(saved) == "the posterior records neither its formula nor its rows"
    check_same_model(fit, saved)  # nothing recorded to disagree with
    renamed = posterior.assign_coords(
        Subject_level=[f"S{s}" for s in posterior["Subject_level"].values]
    )
    with pytest.raises(ModelError, match=r"levels of Subject differ: only the fit has '308'"):
        compare(fit, renamed)


def test_describe_posterior_says_what_is_not_recorded(sleep):
    fit = fit_reml("Reaction ~ Days + (1|Subject)", sleep)
    tree = synthetic_posterior(fit)
    posterior = tree["posterior"].to_dataset()
    only_formula = SavedPosterior(posterior, attrs={"formula": "y ~ x"})
    assert describe_posterior(only_formula) == "the posterior is of 'y ~ x' (its rows not recorded)"
    only_rows = SavedPosterior(posterior, observed=tree["observed_data"].to_dataset())
    assert describe_posterior(only_rows) == (
        "the posterior is on 180 rows (its formula not recorded)"
    )
