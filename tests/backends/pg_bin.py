"""Where the installed PostgreSQL server's programs (`initdb`, `pg_ctl`) are, whatever its major version.

Debian and Ubuntu install each major version under `/usr/lib/postgresql/<major>/bin` (15 on Debian 12,
16 on Ubuntu 24.04, 17 from the PGDG repository): the newest one there wins. Elsewhere `pg_config
--bindir` names the folder when it holds `initdb` (Debian's own `pg_config` from libpq-dev answers
`/usr/bin`, which does not), and last an `initdb` on PATH.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

DEBIAN_ROOT = Path("/usr/lib/postgresql")


def _version(folder: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", folder.name)) or (-1,)


def find_pg_bin(debian_root: Path = DEBIAN_ROOT, pg_config: str | None = "pg_config") -> Path | None:
    """The folder holding `initdb` and `pg_ctl` of the newest installed server, or None."""
    installed = [folder for folder in debian_root.glob("*") if (folder / "bin" / "initdb").exists()]
    if installed:
        return max(installed, key=_version) / "bin"
    if pg_config and shutil.which(pg_config):
        answer = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30, check=False)
        folder = Path(answer.stdout.strip())
        if answer.returncode == 0 and (folder / "initdb").exists():
            return folder
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None
