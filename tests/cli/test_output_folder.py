"""bayeshier.cli.output_folder: an output written aside and moved into place only when complete."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bayeshier.cli import manifest, output_folder
from bayeshier.cli.output_folder import OutputError, staged_output


def _publish(out: Path, files: dict[str, str]) -> None:
    """A complete run that writes ``files`` (relative path -> text)."""
    with staged_output(out) as staging:
        for relative, text in files.items():
            path = staging.folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        staging.publish()


def _no_temporaries(parent: Path) -> None:
    assert not [p.name for p in parent.iterdir() if p.name.startswith(".bayeshier-")]


def test_a_complete_run_appears_with_its_manifest(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    _publish(out, {"report.html": "r", "m/trace.png": "t"})
    assert (out / "report.html").read_text() == "r"
    assert set(manifest.read(out).files) == {"report.html", "m/trace.png"}
    _no_temporaries(out.parent)


@pytest.mark.parametrize("stop", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_run_leaves_the_earlier_output_byte_for_byte(
    tmp_path, stop, checksums
):
    out = tmp_path / "out"
    _publish(out, {"report.html": "old report", "m/trace.png": "old trace"})
    (out / "notes.txt").write_text("the user's own notes")
    before = checksums(out)
    with pytest.raises(type(stop)), staged_output(out) as staging:
        (staging.folder / "report.html").write_text("half a new report")
        raise stop
    assert checksums(out) == before
    _no_temporaries(tmp_path)


def test_a_failed_first_run_creates_nothing(tmp_path):
    out = tmp_path / "new" / "deeper" / "out"
    with pytest.raises(RuntimeError), staged_output(out):
        raise RuntimeError
    assert not (tmp_path / "new").exists()


def test_a_rerun_keeps_files_bayeshier_did_not_write_and_deletes_its_own(tmp_path):
    out = tmp_path / "out"
    _publish(out, {"report.html": "old", "m/trace.png": "old", "gone/forest.png": "old"})
    (out / "notes.txt").write_text("mine")
    (out / "m" / "my_plot.png").write_text("mine too")
    (out / "m" / "trace.png").write_text("edited by hand")  # changed since: not deleted
    _publish(out, {"report.html": "new", "m/energy.png": "new"})
    assert (out / "report.html").read_text() == "new"
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "m" / "my_plot.png").read_text() == "mine too"
    assert (out / "m" / "trace.png").read_text() == "edited by hand"
    assert not (out / "gone").exists()  # bayeshier's, unchanged: deleted
    _no_temporaries(tmp_path)


def test_a_kept_file_in_the_way_of_a_new_one_stays_in_the_old_folder(tmp_path):
    out = tmp_path / "out"
    _publish(out, {"report.html": "old"})
    (out / "report.html").write_text("edited")
    with staged_output(out) as staging:
        (staging.folder / "report.html").write_text("new")
        staging.publish()
    assert (out / "report.html").read_text() == "new"
    (note,) = staging.notes
    aside = Path(note.split(": ")[1].split(" holds")[0])
    assert (aside / "report.html").read_text() == "edited"


def test_links_inside_are_not_followed_and_moved_as_links(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("outside")
    out = tmp_path / "out"
    _publish(out, {"report.html": "old"})
    os.symlink(outside, out / "link")
    _publish(out, {"report.html": "new"})
    assert os.path.islink(out / "link")
    assert (outside / "keep.txt").read_text() == "outside"
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]


def test_out_that_cannot_take_the_output_is_refused_before_anything(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "link")
    with pytest.raises(OutputError, match="is a symbolic link"), staged_output(tmp_path / "link"):
        pass
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"), staged_output(tmp_path / "file"):
        pass
    (real / "thesis.tex").write_text("x")
    with pytest.raises(OutputError, match="files bayeshier did not write"), staged_output(real):
        pass
    assert sorted(p.name for p in real.iterdir()) == ["thesis.tex"]
    _no_temporaries(tmp_path)


def test_an_empty_folder_is_taken(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _publish(out, {"report.html": "r"})
    assert (out / "report.html").read_text() == "r"


@pytest.mark.parametrize("name", ["..", ".hidden", "a/b", "", "../x"])
def test_safe_child_refuses_names_that_leave_the_folder(tmp_path, name):
    with pytest.raises(ValueError, match="not a plain file name"):
        output_folder.safe_child(tmp_path, name)
    assert output_folder.safe_child(tmp_path, "model") == tmp_path / "model"
