"""The PostgreSQL programs are found from what is installed, not from a hard-coded major version."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.backends.pg_bin import find_pg_bin


def _server(root: Path, version: str) -> Path:
    folder = root / version / "bin"
    folder.mkdir(parents=True)
    (folder / "initdb").write_text("#!/bin/sh\n")
    return folder


def test_the_newest_installed_major_version_wins_numerically(tmp_path: Path) -> None:
    for version in ("9.6", "15", "16"):
        _server(tmp_path, version)
    (tmp_path / "17" / "lib").mkdir(parents=True)  # a client-only install: no server programs

    assert find_pg_bin(tmp_path, pg_config=None) == tmp_path / "16" / "bin"


def test_pg_config_names_the_folder_when_nothing_is_under_the_debian_root(tmp_path: Path) -> None:
    server = _server(tmp_path / "opt", "pg")
    pg_config = tmp_path / "pg_config"
    pg_config.write_text(f"#!/bin/sh\necho {server}\n")
    pg_config.chmod(pg_config.stat().st_mode | stat.S_IEXEC)

    assert find_pg_bin(tmp_path / "no-debian-root", pg_config=str(pg_config)) == server


def test_this_machine_has_its_server_found() -> None:
    found = find_pg_bin()
    assert found is None or (found / "initdb").exists()
