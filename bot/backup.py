"""`bot backup DIR` and `bot restore DIR`: a consistent snapshot of the data folder, and
putting one back.

A backup holds the catalog (`COLLECTION.sqlite`), the embedded Chroma folder (`chroma/`,
every collection in it), the feedback log, the documents page's watched feeds and a `manifest.json` that says what was copied. It
is taken while the data folder's write lock is held (`bot.locks`), so no ingest, removal or
repair is half done in it, in this process or in a running server. Writes wait meanwhile.
SQLite files are copied with SQLite's backup API, which gives a consistent copy of a database
that is open elsewhere. Chroma's other files (the HNSW segments) do not change while no
write runs, so they are copied as they are. With a Chroma server (`BOT_CHROMA_HOST`) the
vectors live on that server: only the catalog and feedback are copied, and the message says
that the server's own folder must be backed up too.

A restore refuses to run while any process has the index open, and refuses to replace a data
folder that holds an index unless `--force` is given. The next start-up checks that the
restored catalog and vectors agree (`bot.integrity`). This module leaves out the format of
what it copies and the check itself.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import locks
from bot.config import Settings
from bot.errors import BotError
from bot.feeds import FEEDS_FILE

MANIFEST = "manifest.json"
CHROMA_DIR = "chroma"
FEEDBACK = "feedback.jsonl"
#: Plain files of the data folder that a backup copies as they are (each is rewritten whole
#: or appended to under its own lock, never left half written).
PLAIN_FILES = (FEEDBACK, FEEDS_FILE)
#: Files of the data folder that are not data.
LOCK_FILES = {locks.WRITING, locks.OPEN}


@dataclass
class BackupResult:
    """What a backup or restore copied, and what the operator must do besides."""

    folder: Path
    manifest: dict[str, Any]
    note: str = ""

    def summary(self, verb: str) -> str:
        m = self.manifest
        text = (
            f"{verb} {self.folder}: {m['documents']} documents, {m['passages']} passages "
            f"({', '.join(m['files'])})."
        )
        return f"{text} {self.note}" if self.note else text


def catalog_path(settings: Settings) -> Path:
    return settings.data_dir / f"{settings.collection}.sqlite"


def backup(settings: Settings, dest: Path) -> BackupResult:
    """Write a consistent snapshot of the data folder into `dest` (new or empty)."""
    source = catalog_path(settings)
    if not source.is_file():
        raise BotError(f"Nothing to back up: {source} does not exist.")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BotError(f"{dest} is not an empty folder; choose a new one for the backup.")
    dest.mkdir(parents=True, exist_ok=True)
    files = [source.name]
    with locks.writing(settings.data_dir):  # writes wait until the copy is done
        _copy_sqlite(source, dest / source.name)
        if not settings.chroma_host:
            _copy_chroma(settings.data_dir / CHROMA_DIR, dest / CHROMA_DIR)
            files.append(CHROMA_DIR + "/")
        for name in PLAIN_FILES:
            if (settings.data_dir / name).is_file():
                shutil.copy2(settings.data_dir / name, dest / name)
                files.append(name)
    manifest = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "collection": settings.collection,
        **_catalog_facts(dest / source.name),
        "store": _store(settings),
        "files": files,
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return BackupResult(dest, manifest, _server_note(settings, "back up"))


def restore(settings: Settings, src: Path, force: bool = False) -> BackupResult:
    """Put the backup in `src` back into the data folder.

    Raises `BotError` when `src` is not a backup of this collection, when the data folder
    already holds an index and `force` is not given, or when a process has it open."""
    manifest = _read_manifest(src)
    if manifest.get("collection") != settings.collection:
        raise BotError(
            f"{src} is a backup of the collection {manifest.get('collection')!r}, not "
            f"{settings.collection!r}: set BOT_COLLECTION={manifest.get('collection')} to "
            "restore it."
        )
    target = catalog_path(settings)
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    with locks.sole_user(data_dir):
        present = sorted(p.name for p in data_dir.iterdir() if p.name not in LOCK_FILES)
        if present and not force:
            raise BotError(
                f"{data_dir} is not empty ({', '.join(present)}); restoring would replace "
                "what is there. Pass --force to replace it, or restore into an empty folder "
                "(--data-dir)."
            )
        for suffix in ("", "-wal", "-shm"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        _copy_sqlite(src / target.name, target)
        if (src / CHROMA_DIR).is_dir() and not settings.chroma_host:
            _forget_open_chroma_clients()
            shutil.rmtree(data_dir / CHROMA_DIR, ignore_errors=True)
            shutil.copytree(src / CHROMA_DIR, data_dir / CHROMA_DIR)
        for name in PLAIN_FILES:
            (data_dir / name).unlink(missing_ok=True)
            if (src / name).is_file():
                shutil.copy2(src / name, data_dir / name)
    note = _server_note(settings, "restore")
    if settings.chroma_host and manifest.get("store", "").startswith("embedded"):
        note = (
            f"This backup holds an embedded Chroma folder, but BOT_CHROMA_HOST is set: the "
            f"vectors were not restored ({src / CHROMA_DIR} is where they are). {note}"
        )
    return BackupResult(data_dir, manifest, note)


def _read_manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST
    if not path.is_file():
        raise BotError(f"{src} is not a backup: it has no {MANIFEST}. Make one with `bot backup`.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BotError(f"{path} is damaged ({exc}); restore another backup.") from None
    if (
        not isinstance(manifest, dict)
        or not (src / f"{manifest.get('collection')}.sqlite").is_file()
    ):
        raise BotError(f"{src} is an incomplete backup: its catalog is missing.")
    return manifest


def _copy_sqlite(source: Path, dest: Path) -> None:
    """A consistent copy of a SQLite database, even one that another process is writing."""
    src = sqlite3.connect(source)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()


def _copy_chroma(source: Path, dest: Path) -> None:
    """Chroma's SQLite file through the backup API, its segment files as they are."""
    if not source.is_dir():
        raise BotError(
            f"{source} is missing: the vectors are gone. Run `bot doctor --repair` before "
            "taking a backup."
        )
    for path in sorted(source.rglob("*")):
        target = dest / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.suffix == ".sqlite3":
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_sqlite(path, target)
        elif not path.name.endswith(("-wal", "-shm", "-journal")):  # the backup API's part
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def _catalog_facts(path: Path) -> dict[str, Any]:
    db = sqlite3.connect(path)
    try:
        model = db.execute("SELECT value FROM meta WHERE key = 'embedding_model'").fetchone()
        return {
            "embedding_model": model[0] if model else "",
            "documents": db.execute("SELECT count(*) FROM documents").fetchone()[0],
            "passages": db.execute("SELECT count(*) FROM passages").fetchone()[0],
        }
    finally:
        db.close()


def _store(settings: Settings) -> str:
    if settings.chroma_host:
        return f"chroma server {settings.chroma_host}:{settings.chroma_port}"
    return "embedded chroma"


def _server_note(settings: Settings, verb: str) -> str:
    if not settings.chroma_host:
        return ""
    return (
        f"The vectors live in the Chroma server at {settings.chroma_host}:"
        f"{settings.chroma_port}, so this did not {verb} them: {verb} that server's own "
        "folder (its `chroma run --path`) too, at the same moment and with no ingest running."
    )


def _forget_open_chroma_clients() -> None:
    """Chroma keeps one client per folder for the life of a process. One opened on the
    folder being replaced would go on reading the old files, so drop it."""
    if "chromadb" in sys.modules:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()


# --- bot backup, bot restore ---------------------------------------------------------------------
def add_command(subparsers: Any) -> None:
    """Register `bot backup` and `bot restore`."""
    p = subparsers.add_parser(
        "backup",
        help="Write a consistent snapshot of the catalog, vectors, feedback and watched feeds "
        "into DIR.",
        description="Copies the catalog (SQLite backup API), the embedded Chroma folder, the "
        "feedback log and the watched feeds while writes are paused; a running server may go on "
        "answering.",
    )
    p.add_argument("dir", type=Path, help="A new or empty folder for the backup.")
    p.set_defaults(func=cmd_backup)

    p = subparsers.add_parser(
        "restore",
        help="Put a backup made by `bot backup` back into the data folder.",
        description="Stop the server first. Refuses to replace a data folder that is not "
        "empty unless --force is given.",
    )
    p.add_argument("dir", type=Path, help="A folder written by `bot backup`.")
    p.add_argument("--force", action="store_true", help="Replace what the data folder holds now.")
    p.set_defaults(func=cmd_restore)


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    print(backup(settings, args.dir).summary("Backed up into"))
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    print(restore(settings, args.dir, force=args.force).summary("Restored into"))
    return 0
