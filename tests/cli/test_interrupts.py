"""bayeshier.cli.interrupts: SIGINT raises, is remembered, and waits out a critical step."""

from __future__ import annotations

import os
import signal

import pytest
from reference_cases import fitted_case
from synthetic import synthetic_posterior

from bayeshier.cli import interrupts


@pytest.fixture(scope="module")
def tree():
    return synthetic_posterior(fitted_case("dyestuff"))


def test_a_complete_tree_is_not_interrupted(tree):
    chains, draws = tree["posterior"].sizes["chain"], tree["posterior"].sizes["draw"]
    assert not interrupts.is_interrupted_tree(tree, chains, draws)


@pytest.mark.parametrize("flag", ["true", True, "True"])
def test_the_flag_of_model_sample_marks_it(tree, flag):
    marked = tree.copy()
    marked.attrs = {**tree.attrs, "interrupted": flag}
    sizes = tree["posterior"].sizes
    assert interrupts.is_interrupted_tree(marked, sizes["chain"], sizes["draw"])


def test_fewer_chains_or_draws_than_asked_count_as_interrupted(tree):
    sizes = tree["posterior"].sizes
    assert interrupts.is_interrupted_tree(tree, sizes["chain"] + 1, sizes["draw"])
    assert interrupts.is_interrupted_tree(tree, sizes["chain"], sizes["draw"] + 1)
    short = tree.copy()
    short["posterior"] = tree["posterior"].isel(draw=slice(0, 10))
    assert interrupts.is_interrupted_tree(short, sizes["chain"], sizes["draw"])


def test_sigint_raises_even_when_the_process_ignored_it():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as after `cmd &` in a script
    try:
        with pytest.raises(KeyboardInterrupt), interrupts.sigint_raises():
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10**6):  # the handler runs between bytecodes
                pass
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # restored
        assert not interrupts.received()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_deferred_sigint_is_remembered_not_raised():
    with interrupts.sigint_raises():
        with interrupts.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10**6):
                pass
        assert interrupts.received()


def test_interrupted_is_a_keyboard_interrupt_with_the_message():
    stop = interrupts.Interrupted("interrupted during model 'm': out is unchanged")
    assert isinstance(stop, KeyboardInterrupt)
    assert str(stop) == "interrupted during model 'm': out is unchanged"
