"""bayeshier.cli.manifest: what bayeshier wrote in an output folder, with sizes and hashes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bayeshier.cli import manifest


def _folder(root: Path) -> Path:
    (root / "m").mkdir(parents=True)
    (root / "report.html").write_text("<html></html>")
    (root / "m" / "trace.png").write_bytes(b"\x89PNG")
    return root


def test_record_lists_files_and_folders_and_reads_back(tmp_path):
    folder = _folder(tmp_path / "out")
    recorded = manifest.record(folder)
    assert set(recorded.files) == {"report.html", "m/trace.png"}
    assert recorded.dirs == {"m"}
    assert recorded.files["m/trace.png"].size == 4
    recorded.save(folder)
    assert manifest.read(folder) == recorded
    assert recorded.unchanged(folder, "report.html")


def test_a_changed_or_replaced_file_is_no_longer_bayeshiers(tmp_path):
    folder = _folder(tmp_path / "out")
    recorded = manifest.record(folder)
    (folder / "report.html").write_text("<html>edited</html>")
    assert not recorded.unchanged(folder, "report.html")
    os.unlink(folder / "m" / "trace.png")
    os.symlink(tmp_path, folder / "m" / "trace.png")  # a link in its place is not a file of ours
    assert not recorded.unchanged(folder, "m/trace.png")
    assert not recorded.unchanged(folder, "notes.txt")  # never listed


def test_record_refuses_a_link(tmp_path):
    folder = _folder(tmp_path / "out")
    os.symlink(tmp_path, folder / "link")
    with pytest.raises(OSError, match="neither a file nor a folder"):
        manifest.record(folder)


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../b", "", "a//b"])
def test_a_manifest_pointing_outside_is_not_valid(tmp_path, path):
    folder = _folder(tmp_path / "out")
    manifest.record(folder).save(folder)
    content = json.loads((folder / manifest.MANIFEST_NAME).read_text())
    content["files"][path] = {"size": 1, "sha256": "0" * 64}
    (folder / manifest.MANIFEST_NAME).write_text(json.dumps(content))
    assert manifest.read(folder) is None


def test_no_manifest_or_not_json_is_none(tmp_path):
    folder = _folder(tmp_path / "out")
    assert manifest.read(folder) is None
    (folder / manifest.MANIFEST_NAME).write_text("{not json")
    assert manifest.read(folder) is None


def test_walk_does_not_follow_links(tmp_path):
    folder = _folder(tmp_path / "out")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("x")
    os.symlink(outside, folder / "link")
    assert [relative for relative, _ in manifest.walk(folder)] == [
        "link", "m", "m/trace.png", "report.html"
    ]  # fmt: skip
