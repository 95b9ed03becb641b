"""The compile cache on disk: where it lives, its permissions, keys, atomic writes, checks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from runtime import cache


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_cache_dir_honours_symbolic_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(tmp_path / "mine" / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "mine" / "cache"
    assert (tmp_path / "mine" / "cache").is_dir()
    assert not (tmp_path / "xdg").exists()


def test_cache_dir_honours_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.delenv("SYMBOLIC_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "symbolic"


def test_cache_dir_defaults_to_home_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("SYMBOLIC_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for xdg in ("", "relative/path"):  # the XDG spec says to ignore both
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
        assert cache.cache_dir() == tmp_path / ".cache" / "symbolic"


def test_cache_dir_is_created_private_whatever_the_umask(monkeypatch, tmp_path):
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(tmp_path / "cache"))
    old = os.umask(0o002)
    try:
        path = cache.cache_dir()
    finally:
        os.umask(old)
    assert _mode(path) == 0o700


def test_key_depends_on_every_part_and_their_boundaries():
    base = cache.key_of("int f;", "-O3")
    assert base == cache.key_of("int f;", "-O3")
    assert len(base) == 64
    assert base != cache.key_of("int g;", "-O3")
    assert base != cache.key_of("int f;", "-O2")
    # length prefixes: moving text from one part to the next changes the key
    assert cache.key_of("ab", "c") != cache.key_of("a", "bc")


def test_write_atomic_replaces_whole_file_and_leaves_no_temporaries(tmp_path):
    target = tmp_path / "f.c"
    cache.write_atomic(target, b"old contents that are longer")
    cache.write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.c"]


def test_temp_path_is_beside_the_target_and_fresh(tmp_path):
    target = tmp_path / "k.so"
    a, b = cache.temp_path(target), cache.temp_path(target)
    assert a.parent == b.parent == tmp_path
    assert a != b and a.name.startswith(".k.so.")


def test_stale_temporaries_are_removed_and_fresh_ones_kept(tmp_path):
    stale, fresh = cache.temp_path(tmp_path / "a.so"), cache.temp_path(tmp_path / "b.so")
    stale.write_bytes(b"half a library")
    fresh.write_bytes(b"a library being written")
    old = stale.stat().st_mtime - cache.STALE_SECONDS - 60
    os.utime(stale, (old, old))
    cache.remove_stale_temporaries(tmp_path)
    assert not stale.exists() and fresh.exists()


def _published(tmp_path: Path, data: bytes = b"\x7fELF library bytes") -> cache.Entry:
    entry = cache.Entry(tmp_path, cache.key_of("source"))
    built = tmp_path / "built.tmp"
    built.write_bytes(data)
    entry.publish(built)
    return entry


def test_published_entry_is_intact_and_sha256sum_readable(tmp_path):
    entry = _published(tmp_path)
    assert entry.is_intact()
    assert not (tmp_path / "built.tmp").exists()
    digest, name = entry.digest.read_text().split()
    assert name == entry.library.name
    assert digest == cache.file_sha256(entry.library)


def test_truncated_corrupted_or_unrecorded_entry_is_not_intact(tmp_path):
    entry = _published(tmp_path)
    data = entry.library.read_bytes()
    entry.library.write_bytes(data[: len(data) // 2])  # truncated
    assert not entry.is_intact()
    entry.library.write_bytes(data[:-1] + b"!")  # same size, one byte changed
    assert not entry.is_intact()
    entry.library.write_bytes(data)
    assert entry.is_intact()
    entry.digest.write_text("")  # garbled digest
    assert not entry.is_intact()
    entry.digest.unlink()
    assert not entry.is_intact()
    assert not cache.Entry(tmp_path, "0" * 64).is_intact()  # absent
