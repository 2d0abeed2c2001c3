"""`bot backup` and `bot restore`, in-process: a snapshot restored elsewhere or over a
changed folder gives back the same index; what either refuses, and why.

Backup, wipe and restore under a running server is `test_faults.py`'s business.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.backup import MANIFEST, backup, restore
from bot.cli import main
from bot.config import Settings
from bot.embeddings import Embedder
from bot.errors import BotError, DataDirInUseError
from bot.feeds import FEEDS_FILE
from bot.index import Index
from bot.ingest import ingest_documents
from bot.integrity import check
from bot.types import Document

QUERY = "How long did the talks in city2 go on?"


def _docs(ids: list[str]) -> list[Document]:
    return [
        Document(
            doc_id=doc_id,
            title=f"Report {doc_id}",
            text=f"The talks in city{doc_id[-1]} went on for several days, longer than expected."
            f"\n\nDelegates from country{doc_id[-1]} signed a memorandum on trade and energy.",
            source=f"{doc_id}.txt",
        )
        for doc_id in ids
    ]


#: A watched-feeds file as the documents page writes it.
WATCHED = '{"feeds": [{"url": "https://news.example/rss", "every_s": 900}]}\n'


def _state(index: Index) -> tuple[list[str], list[str]]:
    """The documents and the nearest passages to QUERY: what a restore must bring back."""
    hits = index.vectors.search(index.embedder.embed_query(QUERY), 4)
    return [d.doc_id for d in index.documents()], [pid for pid, _ in hits]


@pytest.fixture
def original(settings: Settings, embedder: Embedder) -> Settings:
    index = Index(settings, embedder)
    ingest_documents(index, _docs(["a1", "a2", "a3"]))
    index.close()
    (settings.data_dir / "feedback.jsonl").write_text('{"rating": 1}\n', encoding="utf-8")
    (settings.data_dir / FEEDS_FILE).write_text(WATCHED, encoding="utf-8")
    return settings


def test_a_backup_restored_elsewhere_is_the_same_index(
    original: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    index = Index(original, embedder)
    expected = _state(index)
    result = backup(original, tmp_path / "snap")  # with the index open, as under a server
    index.close()
    manifest = json.loads((tmp_path / "snap" / MANIFEST).read_text())
    assert manifest["documents"] == 3 and manifest["passages"] == 6
    assert manifest["files"] == ["articles.sqlite", "chroma/", "feedback.jsonl", FEEDS_FILE]
    assert "3 documents, 6 passages" in result.summary("Backed up into")

    elsewhere = original.replace(data_dir=tmp_path / "elsewhere")
    restore(elsewhere, tmp_path / "snap")
    restored = Index(elsewhere, embedder)
    assert _state(restored) == expected and check(restored).ok
    assert (elsewhere.data_dir / "feedback.jsonl").read_text() == '{"rating": 1}\n'
    assert (elsewhere.data_dir / FEEDS_FILE).read_text() == WATCHED  # the documents page's feeds
    restored.close()


def test_restore_with_force_replaces_a_changed_folder(
    original: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    index = Index(original, embedder)
    expected = _state(index)
    index.close()
    backup(original, tmp_path / "snap")

    index = Index(original, embedder)  # changes after the backup: one more, one less
    ingest_documents(index, _docs(["b7"]))
    index.remove("a1")
    index.close()

    with pytest.raises(BotError, match="--force"):
        restore(original, tmp_path / "snap")
    restore(original, tmp_path / "snap", force=True)
    index = Index(original, embedder)
    assert _state(index) == expected and check(index).ok
    index.close()


def test_restore_refuses_while_the_index_is_open(
    original: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    backup(original, tmp_path / "snap")
    index = Index(original, embedder)
    with pytest.raises(DataDirInUseError, match="Stop it first"):
        restore(original, tmp_path / "snap", force=True)
    index.close()


def test_what_backup_and_restore_refuse(original: Settings, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(BotError, match="not an empty folder"):
        backup(original, tmp_path / "full")
    with pytest.raises(BotError, match="Nothing to back up"):
        backup(original.replace(data_dir=tmp_path / "none"), tmp_path / "snap0")
    with pytest.raises(BotError, match="not a backup"):
        restore(original.replace(data_dir=tmp_path / "new"), tmp_path / "full")

    backup(original, tmp_path / "snap")
    with pytest.raises(BotError, match="BOT_COLLECTION=articles"):
        restore(original.replace(data_dir=tmp_path / "new", collection="other"), tmp_path / "snap")
    damaged = tmp_path / "damaged"
    shutil.copytree(tmp_path / "snap", damaged)
    (damaged / "articles.sqlite").unlink()
    with pytest.raises(BotError, match="catalog is missing"):
        restore(original.replace(data_dir=tmp_path / "new"), damaged)


def test_with_a_chroma_server_only_the_catalog_is_copied_and_the_message_says_so(
    original: Settings, tmp_path: Path
) -> None:
    remote = original.replace(chroma_host="chroma.internal", chroma_port=8123)
    result = backup(remote, tmp_path / "snap")
    assert not (tmp_path / "snap" / "chroma").exists()
    assert result.manifest["store"] == "chroma server chroma.internal:8123"
    assert "chroma.internal:8123" in result.note and "own folder" in result.note


def test_the_commands(
    original: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, snap = str(original.data_dir), str(tmp_path / "snap")
    assert main(["--data-dir", data, "backup", snap]) == 0
    assert "Backed up into" in capsys.readouterr().out
    assert main(["--data-dir", data, "restore", snap]) == 2
    assert "Pass --force" in capsys.readouterr().err
    assert main(["--data-dir", data, "restore", "--force", snap]) == 0
    assert "Restored into" in capsys.readouterr().out
