"""Reading a GLMM response: the forms each family takes, and errors naming the rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeshier import fit_reml
from bayeshier.errors import DataError, FamilyWarning, ModelError
from bayeshier.reml.glmm import make_family
from bayeshier.reml.glmm.response import glmm_data, looks_like_glmm_response

BINOMIAL, POISSON = make_family("binomial"), make_family("poisson")


def _frame(**columns) -> pd.DataFrame:
    size = len(next(iter(columns.values())))
    return pd.DataFrame({"g": [f"g{i % 3}" for i in range(size)], **columns})


def test_cbind_gives_proportions_and_trials():
    data = _frame(s=[1, 0, 3, 2], f=[3, 2, 0, 2])
    read = glmm_data("cbind(s, f) ~ 1 + (1|g)", data, BINOMIAL)
    np.testing.assert_allclose(read.y, [0.25, 0.0, 1.0, 0.5])
    np.testing.assert_allclose(read.n, [4, 2, 3, 4])
    assert read.response == "cbind(s, f)"


@pytest.mark.parametrize(
    "column",
    [
        [0, 1, 1, 0],
        [False, True, True, False],
        pd.Categorical(["no", "yes", "yes", "no"], ["no", "yes"]),
        ["a", "b", "b", "a"],
    ],
)
def test_binary_forms_are_zero_one(column):
    read = glmm_data("y ~ 1 + (1|g)", _frame(y=column), BINOMIAL)
    np.testing.assert_array_equal(read.y, [0, 1, 1, 0])
    np.testing.assert_array_equal(read.n, [1, 1, 1, 1])


def test_proportions_with_weights_and_missing_rows():
    data = _frame(p=[0.5, np.nan, 0.25, 1.0], size=[2, 3, 4, 1])
    read = glmm_data("p ~ 1 + (1|g)", data, BINOMIAL, weights="size")
    np.testing.assert_allclose(read.y, [0.5, 0.25, 1.0])
    np.testing.assert_allclose(read.n, [2, 4, 1])
    assert list(read.spec.row_index) == [0, 2, 3]


def test_offsets_add_up():
    data = _frame(y=[0, 2, 5, 1], e=[1.0, 2.0, 4.0, 8.0], o=[0.1, 0.2, 0.3, 0.4])
    read = glmm_data("y ~ offset(log(e)) + (1|g)", data, POISSON, offset="o")
    np.testing.assert_allclose(read.offset, np.log(data.e) + data.o)
    assert np.all(glmm_data("y ~ 1 + (1|g)", data, POISSON).offset == 0.0)


@pytest.mark.parametrize(
    ("formula", "column", "family", "message"),
    [
        ("y ~ 1 + (1|g)", [0, 1, 2, 1, 0], BINOMIAL, r"must be 0 or 1.*row\(s\) 2 \(index"),
        ("y ~ 1 + (1|g)", [0, 1, 0.5, 1, 0], BINOMIAL, r"holds 0.5 at row\(s\) 2"),
        ("y ~ 1 + (1|g)", [0, 3, -1, 1, 0], POISSON, r"counts.*row\(s\) 2 .*hold -1"),
        ("y ~ 1 + (1|g)", [0, 3, 1.5, 1, 0], POISSON, r"counts.*row\(s\) 2 .*hold 1.5"),
        ("y ~ 1 + (1|g)", list("abcab"), BINOMIAL, "factor with 3 level"),
    ],
)
def test_bad_responses_name_the_rows(formula, column, family, message):
    with pytest.raises(DataError, match=message):
        glmm_data(formula, _frame(y=column), family)


def test_successes_above_trials_name_the_rows():
    data = _frame(s=[1, 5, 2, 0, 1, 1], n=[3, 4, 2, 1, 1, 2])
    with pytest.raises(DataError, match=r"failures are negative at row\(s\) 1 .*exceed trials"):
        glmm_data("cbind(s, n - s) ~ 1 + (1|g)", data, BINOMIAL)


def test_negative_weights_and_poisson_cbind_are_refused():
    data = _frame(y=[0, 1, 1, 0, 1, 0], w=[1.0, -2.0, 1.0, 1.0, 1.0, 1.0], f=[1] * 6)
    with pytest.raises(DataError, match="weights must be positive"):
        glmm_data("y ~ 1 + (1|g)", data, BINOMIAL, weights="w")
    with pytest.raises(ModelError, match="family='binomial'"):
        glmm_data("cbind(y, f) ~ 1 + (1|g)", data, POISSON)


def test_data_may_be_a_dict_of_columns_but_not_a_list():
    columns = {"y": [0, 1, 1, 0, 1, 0], "g": ["a", "a", "b", "b", "c", "c"]}
    from_dict = glmm_data("y ~ 1 + (1|g)", columns, BINOMIAL)
    from_frame = glmm_data("y ~ 1 + (1|g)", pd.DataFrame(columns), BINOMIAL)
    np.testing.assert_array_equal(from_dict.y, from_frame.y)
    with pytest.raises(DataError, match="list"):
        glmm_data("y ~ 1 + (1|g)", [[0, 1]], BINOMIAL)


@pytest.mark.parametrize(
    ("values", "family"),
    [
        ([0, 1, 1, 0, np.nan], "binomial"),
        ([0, 3, 1, 0, 2, 7], "poisson"),
        ([1.5, 2.0], None),
        ([0, 1000, 20000, 3], None),
        (list(range(100)), None),
    ],
)
def test_looks_like_glmm_response(values, family):
    message = looks_like_glmm_response(np.asarray(values, dtype=float))
    if family is None:
        assert message is None
    else:
        assert f"family='{family}'" in message


def test_fit_reml_warns_on_a_binary_response():
    rng = np.random.default_rng(3)
    data = _frame(y=rng.integers(0, 2, 60), x=rng.normal(size=60))
    with pytest.warns(FamilyWarning, match=r"fit_glmm\(formula, data, family='binomial'\)"):
        fit_reml("y ~ x + (1|g)", data)
