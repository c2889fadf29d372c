"""Every notebook in notebooks/ runs from top to bottom without an error (in quick mode).

The kernel is this interpreter (``sys.executable``): a kernel spec written to a
temporary directory, found through ``JUPYTER_PATH``, so no ``ipykernel install``
is needed and a ``python3`` kernel registered elsewhere on the machine cannot be
picked up by mistake. ``BAYESHIER_QUICK=1`` (inherited by the kernel) makes the
notebooks sample 2 chains x 200 draws.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")
kernelspec_manager = pytest.importorskip("jupyter_client.kernelspec").KernelSpecManager

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
KERNEL_NAME = "bayeshier-test-python"
CELL_TIMEOUT_SECONDS = 300


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A kernel spec running ``sys.executable -m ipykernel_launcher``, found on JUPYTER_PATH."""
    root = tmp_path_factory.mktemp("jupyter")
    # write_kernel_spec's argv is [sys.executable, "-m", "ipykernel_launcher", ...]
    kernelspec.write_kernel_spec(root / "kernels" / KERNEL_NAME)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(root))
        patch.setenv("BAYESHIER_QUICK", "1")
        spec = kernelspec_manager().get_kernel_spec(KERNEL_NAME)
        assert spec.argv[0] == sys.executable
        yield KERNEL_NAME


def test_notebooks_found() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_shrinkage.ipynb",
        "02_lm_vs_lmer.ipynb",
        "03_workflow.ipynb",
        "04_binary_outcomes.ipynb",
    ]


@pytest.mark.sampling
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, kernel_name: str) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=kernel_name,
        timeout=CELL_TIMEOUT_SECONDS,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    # Warnings would spill into the stored outputs: the notebooks must stay quiet.
    stderr = [
        output["text"]
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stderr"
    ]
    assert not stderr, stderr
