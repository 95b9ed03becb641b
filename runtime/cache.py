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

The cache holds code we load, so nothing is read from a directory or file that another user
owns or may write (`why_untrusted`): such a cache directory is replaced by a private one, with
a warning saying how to fix it, and such a file reads as absent (and is rebuilt). Everything
written here is the user's alone: directories 0700, files 0600 (libraries 0700).
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

# Part of every key: bump it when the layout or the meaning of the key changes, never by hand
# for a change of generated source (the source is in the key already).
FORMAT_VERSION = "symbolic-cache-1"


def cache_dir() -> Path:
    """The cache directory: the configured one when it is safe to load code from, else a
    private one (with a warning, once per directory).

    Configured: `$SYMBOLIC_CACHE_DIR` if set, else `$XDG_CACHE_HOME/symbolic` (the XDG spec
    ignores a relative or empty value), else `~/.cache/symbolic`; created with mode 0700 on
    first use. Read on every call, so changing the environment moves the cache at once.
    A directory owned by another user, or writable by its group or others, could hand us a
    library someone else wrote: it is never read, and `private_cache_dir()` is used instead.
    """
    override = os.environ.get("SYMBOLIC_CACHE_DIR")
    if override:
        path = Path(override).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
        path = base / "symbolic"
    make_private_dirs(path)
    reason = why_untrusted(path)
    if reason is None:
        return path
    _warn_once(path, f"{reason}; to use it, {_how_to_fix(path)}")
    return private_cache_dir()


def _how_to_fix(path: Path) -> str:
    try:
        ours = os.stat(path).st_uid == os.geteuid()
    except OSError:
        ours = False
    if ours:
        return f"run `chmod go-w {path}`"
    return "set $SYMBOLIC_CACHE_DIR to a directory of your own (only its owner or root can fix it)"


def private_cache_dir() -> Path:
    """`<tmp>/symbolic-<uid>` (the system's temporary directory), made 0700 and checked as the
    configured one; where it is not safe either (someone else made it first), a fresh
    directory of `tempfile.mkdtemp` for this process."""
    global _fresh_private_dir
    import tempfile  # here: only a cache directory that is not safe needs it

    path = Path(tempfile.gettempdir()) / f"symbolic-{_uid()}"
    make_private_dirs(path)
    reason = why_untrusted(path)
    if reason is None:
        return path
    if _fresh_private_dir is None:
        _fresh_private_dir = Path(tempfile.mkdtemp(prefix="symbolic-"))
    _warn_once(path, f"{reason}; this process caches in {_fresh_private_dir} instead")
    return _fresh_private_dir


_fresh_private_dir: Path | None = None
_warned: set[Path] = set()  # the unsafe directories already warned about in this process


def _warn_once(path: Path, message: str) -> None:
    if path not in _warned:
        _warned.add(path)
        warnings.warn(f"the compile cache {path} is not used: {message}", UserWarning, stacklevel=3)


def _uid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else 0


def why_untrusted(path: Path) -> str | None:
    """Why code read from `path` (a directory or a file) could be someone else's, or None.

    Trusted: owned by this process's user and not writable by its group or others. What a
    directory holds is checked file by file (`read_trusted`), so the directories above it need
    no check: whoever can rename them can only swap in files they own, which are refused.
    """
    try:
        return _why_untrusted(os.stat(path))
    except OSError as error:
        return f"it cannot be read ({error.strerror})"


def _why_untrusted(st: os.stat_result) -> str | None:
    if not hasattr(os, "geteuid"):
        return None  # Windows: no POSIX owners and modes to check
    if st.st_uid != os.geteuid():
        return f"it is owned by uid {st.st_uid}, not by this user (uid {os.geteuid()})"
    bits = (("its group", stat.S_IWGRP), ("others", stat.S_IWOTH))
    writers = [who for who, bit in bits if st.st_mode & bit]
    return f"it is writable by {' and '.join(writers)}" if writers else None


def read_trusted(path: Path) -> bytes | None:
    """The bytes of the file `path`, or None when it is absent or not ours alone to write
    (`why_untrusted`): the cache's files name and are the code we load."""
    try:
        with open(path, "rb") as f:
            if _why_untrusted(os.fstat(f.fileno())) is not None:
                return None
            return f.read()
    except OSError:
        return None


def make_private_dirs(path: Path) -> None:
    """Create `path` and any missing parents with mode 0700 (whatever the umask): the cache
    holds code we load."""
    missing = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue  # another process made it first: checked as any existing directory
        os.chmod(directory, 0o700)  # mkdir's mode is masked by the umask


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
        # a fresh file, 0600 whatever the umask: read_trusted refuses what others may write
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_index(key: str) -> str | None:
    """The entry key an index file records (build.build_library_of), or None when the file
    is absent, not ours alone (`read_trusted`) or does not hold a key."""
    data = read_trusted(cache_dir() / "index" / key)
    try:
        text = (data or b"").decode().strip()
    except UnicodeDecodeError:
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
        so the caller rebuilds it; so does one that another user owns or may write
        (`read_trusted`): the rebuild replaces it with our own file.
        """
        digest, library = read_trusted(self.digest), read_trusted(self.library)
        if digest is None or library is None:
            return False
        recorded = digest.decode(errors="replace").split()[:1]
        return recorded == [hashlib.sha256(library).hexdigest()]

    def publish(self, built: Path) -> None:
        """Move a freshly built library into place, with its digest.

        The digest goes first: a reader that sees the new library also sees its digest. Should
        two writers interleave (A's digest, B's digest, B's library, A's library), the entry
        only reads as corrupted and is rebuilt; our compilers produce the same bytes for the
        same key, so in practice both digests agree.
        """
        line = f"{file_sha256(built)}  {self.library.name}\n"
        write_atomic(self.digest, line.encode())
        os.chmod(built, 0o700)  # the compiler's mode follows the umask; ours alone to write
        os.replace(built, self.library)
