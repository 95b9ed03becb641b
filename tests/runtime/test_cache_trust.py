"""The compile cache loads code only from directories and files that are ours alone: another
user's or a group- or world-writable cache directory is replaced by a private one."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import warnings
from pathlib import Path

import pytest

from runtime import build, cache, toolchain

OTHER_UID = 54321  # a uid no test process runs as

# Two libraries with the same function: the cache entry of ONE holding TWO's bytes is a plant.
ONE = "int answer(void) { return 1; }\n"
TWO = "int answer(void) { return 2; }\n"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def temp_root(monkeypatch, tmp_path) -> Path:
    """The system temporary directory, moved under tmp_path, and fresh in-process memos."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    monkeypatch.setattr(cache, "_warned", set())
    monkeypatch.setattr(cache, "_fresh_private_dir", None)
    monkeypatch.setattr(build, "_LOADED", {})
    return root


def _give_away(path: Path) -> None:
    """chown `path` to another user, or skip saying why that is impossible here."""
    try:
        os.chown(path, OTHER_UID, -1)
    except PermissionError as error:
        pytest.skip(f"cannot chown to another uid without root: {error}")


def _make_unsafe(path: Path, how: str) -> None:
    if how == "owned by another user":
        _give_away(path)
    else:
        path.chmod(0o770 if how == "group-writable" else 0o707)


UNSAFE = ["group-writable", "world-writable", "owned by another user"]
REASONS = {
    "group-writable": "writable by its group",
    "world-writable": "writable by others",
    "owned by another user": f"owned by uid {OTHER_UID}",
}


@pytest.mark.parametrize("how", UNSAFE)
def test_unsafe_cache_dir_is_replaced_by_private_one_with_one_warning(
    monkeypatch, tmp_path, temp_root, how
):
    unsafe = tmp_path / "shared-cache"
    unsafe.mkdir()
    _make_unsafe(unsafe, how)
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(unsafe))
    with pytest.warns(UserWarning) as caught:
        used = cache.cache_dir()
        assert cache.cache_dir() == used  # warned once per directory
    assert len(caught) == 1
    message = str(caught[0].message)
    assert str(unsafe) in message and REASONS[how] in message
    fix = "a directory of your own" if how == "owned by another user" else f"chmod go-w {unsafe}"
    assert fix in message
    assert used == temp_root / f"symbolic-{os.geteuid()}"
    assert _mode(used) == 0o700 and os.stat(used).st_uid == os.geteuid()


def test_safe_cache_dir_is_used_without_warning(monkeypatch, tmp_path, temp_root):
    safe = tmp_path / "cache"
    safe.mkdir(mode=0o755)  # readable by others is fine: only writers matter
    safe.chmod(0o755)
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(safe))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.cache_dir() == safe
    assert list(temp_root.iterdir()) == []


def test_created_cache_dir_and_missing_parents_are_private(monkeypatch, tmp_path, temp_root):
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(tmp_path / "a" / "b" / "cache"))
    old = os.umask(0o002)
    try:
        cache.cache_dir()
    finally:
        os.umask(old)
    for path in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "cache"):
        assert _mode(path) == 0o700


def test_unsafe_private_dir_gives_a_fresh_one(monkeypatch, tmp_path, temp_root):
    unsafe = tmp_path / "shared-cache"
    unsafe.mkdir(mode=0o777)
    unsafe.chmod(0o777)
    squatted = temp_root / f"symbolic-{os.geteuid()}"  # made first by someone else
    squatted.mkdir()
    squatted.chmod(0o777)
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(unsafe))
    with pytest.warns(UserWarning) as caught:
        used = cache.cache_dir()
    assert [str(squatted) in str(w.message) for w in caught] == [False, True]
    assert used not in (unsafe, squatted) and used.parent == temp_root
    assert _mode(used) == 0o700 and cache.cache_dir() == used


def _plant(directory: Path, scratch: Path, monkeypatch) -> Path:
    """Put TWO's library in `directory` under ONE's key, as intact as a real entry."""
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(scratch))
    one, two = build.build_shared_object(ONE), build.build_shared_object(TWO)
    directory.mkdir(mode=0o700, exist_ok=True)
    planted = cache.Entry(directory, one.stem)
    shutil.copy(two, planted.library)
    planted.digest.write_text(f"{cache.file_sha256(two)}  {planted.library.name}\n")
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(directory))
    return planted.library


def _answer() -> int:
    build._LOADED.clear()
    return build.build_library(ONE).answer()


@pytest.mark.parametrize("how", UNSAFE)
def test_nothing_is_loaded_from_an_unsafe_cache_dir(monkeypatch, tmp_path, temp_root, how):
    planted = _plant(tmp_path / "cache", tmp_path / "scratch", monkeypatch)
    assert _answer() == 2  # the control: a plant in a safe directory is what loads
    _make_unsafe(planted.parent, how)
    with pytest.warns(UserWarning, match="is not used"):
        assert _answer() == 1  # built afresh in the private directory
    assert (temp_root / f"symbolic-{os.geteuid()}" / planted.name).exists()


@pytest.mark.parametrize("how", UNSAFE)
def test_entry_others_may_write_is_rebuilt_not_loaded(monkeypatch, tmp_path, temp_root, how):
    planted = _plant(tmp_path / "cache", tmp_path / "scratch", monkeypatch)
    _make_unsafe(planted, how)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the directory is safe: no warning, the file is refused
        assert _answer() == 1
    assert os.stat(planted).st_uid == os.geteuid() and _mode(planted) == 0o700  # replaced


def test_files_others_may_write_read_as_absent(monkeypatch, tmp_path, temp_root):
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(tmp_path / "cache"))
    cache.write_index("k" * 64, "a" * 64)
    index = tmp_path / "cache" / "index" / ("k" * 64)
    assert _mode(index) == 0o600 and cache.read_index("k" * 64) == "a" * 64
    index.chmod(0o620)
    assert cache.read_index("k" * 64) is None
    index.chmod(0o600)
    _give_away(index)
    assert cache.read_index("k" * 64) is None


def test_toolchain_record_others_may_write_is_ignored(monkeypatch, tmp_path, temp_root):
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(toolchain, "_TOOLCHAINS", {})
    compiler = build.find_c_compiler()
    record = toolchain._record_path(toolchain._identity(compiler))
    toolchain.remember(toolchain.Toolchain(compiler, "v", ("-DPLANTED",), ()))
    monkeypatch.setattr(toolchain, "_TOOLCHAINS", {})
    assert toolchain.recorded_toolchain(compiler).compile_flags == ("-DPLANTED",)
    record.chmod(0o646)
    monkeypatch.setattr(toolchain, "_TOOLCHAINS", {})
    assert toolchain.recorded_toolchain(compiler) is None
