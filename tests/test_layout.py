"""The package tree shows the pipeline's stages; infrastructure and stage internals stay off the
top level (``README.md``, Development: Layout)."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "gamyeon"

#: the public surface and the cross-cutting types; a new module belongs in a package
TOP_MODULES = {
    "__init__",
    "about",
    "annotations",
    "api",
    "cli",
    "cliargs",
    "demo",
    "errors",
    "figures",
    "keys",
    "kindpolicy",
    "options",
    "policy",
    "pseudonym",
    "types",
}
#: the stages in pipeline order, then what they use and the commands beside anonymize
PACKAGES = {
    "media",
    "detect",
    "track",
    "mask",
    "operators",
    "pipeline",
    "kinds",
    "vault",
    "ledger",
    "verify",
    "batch",
    "analytics",
    "review",
    "live",
    "infra",
}


def test_the_top_level_holds_only_the_public_surface_and_the_cross_cutting_types() -> None:
    assert {p.stem for p in SRC.glob("*.py")} == TOP_MODULES


def test_the_packages_are_the_stages_and_what_they_use() -> None:
    found = {p.parent.name for p in SRC.glob("*/*.py")}
    assert found == PACKAGES


def test_each_test_folder_is_a_package() -> None:
    """pytest imports a test file by its name within the nearest folder without an ``__init__.py``;
    with one in every subfolder of ``tests/`` (and none in ``tests/`` itself, which stays on
    ``sys.path`` for ``conftest`` and the shared helpers), two folders may hold test files of the
    same name."""
    tests = Path(__file__).resolve().parent
    assert not (tests / "__init__.py").exists()
    for folder in tests.rglob("*"):
        if folder.is_dir() and any(folder.glob("test_*.py")) and folder != tests:
            assert (folder / "__init__.py").is_file(), f"{folder} has test files but no __init__.py"
