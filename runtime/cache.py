"""The compile cache on disk: where it lives, how entries are named, written and checked.

An entry is three files named by its key (a sha256 of everything that decides the bytes of the
library): `<key>.so` the library, `<key>.c` its source for people to read, and `<key>.sha256`
the digest of the library in `sha256sum` format (so `sha256sum -c` works in the directory).
`index/<key>` files are a second level: the key of what a source was rendered from, holding
the key of its entry, so a warm start loads the library without rendering the source.
Every file is written to a temporary name in the same directory and moved into place with
`os.replace`, which is atomic on one filesystem: readers see the old file or the new one,
never half of one. Processes that build the same entry at once need no lock: each rename
places a complete file, and the last one wins.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

# Part of every key: bump it when the layout or the meaning of the key changes, never by hand
# for a change of generated source (the source is in the key already).
FORMAT_VERSION = "symbolic-cache-1"


def cache_dir() -> Path:
    """The cache directory, created with mode 0700 on first use.

    `$SYMBOLIC_CACHE_DIR` if set, else `$XDG_CACHE_HOME/symbolic` (the XDG spec ignores a
    relative or empty value), else `~/.cache/symbolic`. Read on every call, so changing the
    environment moves the cache at once.
    """
    override = os.environ.get("SYMBOLIC_CACHE_DIR")
    if override:
        path = Path(override).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
        path = base / "symbolic"
    if not path.is_dir():
        os.makedirs(path, mode=0o700, exist_ok=True)
        # makedirs' mode is masked by the umask; the cache holds code we load, so say it exactly
        os.chmod(path, 0o700)
    return path


def key_of(*parts: str | bytes) -> str:
    """sha256 over the parts, each length-prefixed so that no two part lists collide."""
    digest = hashlib.sha256(FORMAT_VERSION.encode())
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def temp_path(path: Path) -> Path:
    """A fresh name beside `path` (same directory, so os.replace onto `path` is atomic)."""
    import secrets  # here: only writers need it, and a warm start writes nothing

    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def write_atomic(path: Path, data: bytes) -> None:
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_index(key: str) -> str | None:
    """The entry key an index file records (build.build_library_of), or None when the file
    is absent or does not hold a key."""
    try:
        text = (cache_dir() / "index" / key).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else None


def write_index(key: str, entry_key: str) -> None:
    """Record `entry_key` under the index key `key` (atomically, as every cache file)."""
    directory = cache_dir() / "index"
    directory.mkdir(mode=0o700, exist_ok=True)
    write_atomic(directory / key, f"{entry_key}\n".encode())


# A temporary file older than this belongs to a build that died (a build takes seconds).
STALE_SECONDS = 3600


def remove_stale_temporaries(directory: Path) -> None:
    """Delete temporaries that killed builds left behind; a live build's are recent."""
    now = time.time()
    for tmp in directory.glob(".*.tmp"):
        try:
            if now - tmp.stat().st_mtime > STALE_SECONDS:
                tmp.unlink()
        except OSError:
            pass  # another process removed or replaced it first


@dataclass(frozen=True)
class Entry:
    """One cache entry: the paths of its library, source and digest files."""

    directory: Path
    key: str

    LIBRARY_SUFFIX = ".so"  # a kind of entry (a CUDA cubin) is a subclass with its suffixes
    SOURCE_SUFFIX = ".c"

    @property
    def library(self) -> Path:
        return self.directory / f"{self.key}{self.LIBRARY_SUFFIX}"

    @property
    def source(self) -> Path:
        return self.directory / f"{self.key}{self.SOURCE_SUFFIX}"

    @property
    def digest(self) -> Path:
        return self.directory / f"{self.key}.sha256"

    def is_intact(self) -> bool:
        """True when the library exists and its bytes match the recorded digest.

        A truncated or overwritten library (or a missing or garbled digest) reads as absent,
        so the caller rebuilds it.
        """
        try:
            recorded = self.digest.read_text().split()[0]
            return file_sha256(self.library) == recorded
        except (OSError, IndexError):
            return False

    def publish(self, built: Path) -> None:
        """Move a freshly built library into place, with its digest.

        The digest goes first: a reader that sees the new library also sees its digest. Should
        two writers interleave (A's digest, B's digest, B's library, A's library), the entry
        only reads as corrupted and is rebuilt; our compilers produce the same bytes for the
        same key, so in practice both digests agree.
        """
        line = f"{file_sha256(built)}  {self.library.name}\n"
        write_atomic(self.digest, line.encode())
        os.replace(built, self.library)
