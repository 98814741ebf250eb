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
    "pipeline",
    "policy",
    "pseudonym",
    "runfile",
    "stages",
    "types",
}
#: the stages in pipeline order, then what they use and the commands beside anonymize
PACKAGES = {"media", "detect", "track", "mask", "operators", "kinds", "vault", "ledger"}
PACKAGES |= {"verify", "batch", "analytics", "infra"}


def test_the_top_level_holds_only_the_public_surface_and_the_cross_cutting_types() -> None:
    assert {p.stem for p in SRC.glob("*.py")} == TOP_MODULES


def test_the_packages_are_the_stages_and_what_they_use() -> None:
    found = {p.parent.name for p in SRC.glob("*/*.py")}
    assert found == PACKAGES
