"""The command line's layering: shared option groups in ``gamyeon.cliargs``, subcommands on top.

``anonymize`` and ``batch`` must take the same run options and build the same ``Options`` from
them; ``verify`` the same policy options. No subcommand module may import ``gamyeon.cli`` (the
top, which imports them all) and no module may reach into argparse's private attributes.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

from gamyeon import cli, cliargs
from gamyeon.verify import cli as verify_cli

SRC = Path(cli.__file__).parent
TOP_CLI = "gamyeon.cli"

#: dests that only ``anonymize`` / only ``batch`` has; everything else the two share
ANONYMIZE_ONLY = {"command", "inputs", "output", "annotations", "vault", "verify", "summary_json"}
BATCH_ONLY = {"command", "source", "output", "workers", "ray", "chunk_seconds", "overlap_seconds"}

#: every shared option, each away from its default
SHARED_ARGV = [
    "--kinds",
    "faces,persons",
    "--operator",
    "blur",
    "--shape",
    "ellipse",
    "--mask-scale",
    "1.6",
    "--threshold",
    "0.3",
    "--detect-every",
    "3",
    "--small-faces",
    "never",
    "--codec",
    "hevc",
    "--crf",
    "22",
    "--preset",
    "fast",
    "--fps",
    "29.97",
    "--keep-audio",
    "--keep-metadata",
    "--export",
    "coco",
    "--key",
    "master.key",
    "--face-model",
    "face.onnx",
    "--person-model",
    "person.onnx",
    "--person-mode",
    "body",
    "--text-model",
    "text.onnx",
    "--silhouette-model",
    "seg.onnx",
    "--purpose",
    "pedestrian detection training",
    "--basis",
    "research",
    "--recipient",
    "lab",
    "--retain-days",
    "30",
    "--ledger",
    "ledger.sqlite",
    "-q",
    "-v",
]


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path) -> set[str]:
    """The modules ``path`` imports anywhere (also inside functions), as absolute dotted names;
    ``from a import b`` counts as both ``a`` and ``a.b``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _cli_modules() -> dict[str, Path]:
    return {name: path for name, path in _modules().items() if "cli" in name.rsplit(".", 1)[-1]}


def test_only_the_top_cli_imports_the_subcommands_and_nothing_imports_it() -> None:
    modules = _cli_modules()
    assert {"gamyeon.cli", "gamyeon.cliargs", "gamyeon.batch.cli", "gamyeon.verify.cli"} <= set(modules)
    for name, path in modules.items():
        if name == TOP_CLI:
            continue
        cli_imports = {m for m in _imports(path) if m in modules}
        if name == "gamyeon.cliargs":
            assert not cli_imports, f"cliargs must stay a leaf, imports {cli_imports}"
        else:
            assert cli_imports <= {"gamyeon.cliargs"}, f"{name} imports {cli_imports - {'gamyeon.cliargs'}}"


def test_no_module_uses_argparse_internals() -> None:
    """Private argparse attributes (``parser._actions``, ``_add_action``, ``argparse._SubParsersAction``)
    change between Python versions and couple one parser to another's innards."""
    private = {"_actions", "_add_action", "_option_string_actions", "_action_groups", "_defaults", "_registries"}
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            on_argparse = isinstance(node.value, ast.Name) and node.value.id == "argparse"
            bad = node.attr in private or node.attr == "_anonymize_parser" or (on_argparse and node.attr[0] == "_")
            assert not bad, f"{path}:{node.lineno}: argparse internal .{node.attr}"


def _parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(list(argv))


def test_anonymize_and_batch_take_the_same_shared_options() -> None:
    anonymize = _parse("anonymize", "in.mp4", "-o", "out.mp4", *SHARED_ARGV)
    batch = _parse("batch", "src", "-o", "dst", *SHARED_ARGV)
    assert set(vars(anonymize)) - ANONYMIZE_ONLY == set(vars(batch)) - BATCH_ONLY
    shared = set(vars(batch)) - BATCH_ONLY
    assert {k: getattr(anonymize, k) for k in shared} == {k: getattr(batch, k) for k in shared}
    # the same Options, and batch's are what anonymize builds when it gets none of its own options
    options = cli.options_from_args(anonymize)
    assert options == cliargs.options_from_args(batch)
    assert options.kinds == ("face", "person")
    assert _parse("batch", "src", "-o", "dst", "--seal", "k.key").seal == Path("k.key")  # one vault per output
    assert options.policy.for_kind("face").operator.name == "blur"
    assert options.policy.for_kind("face").threshold == pytest.approx(0.3)
    assert options.processing.purpose == "pedestrian detection training" and options.processing.retain_until
    assert str(options.fps) == "30000/1001" and options.exports == ("coco",)


def test_anonymize_and_batch_share_the_defaults() -> None:
    anonymize = cli.options_from_args(_parse("anonymize", "in.mp4", "-o", "out.mp4"))
    assert anonymize == cliargs.options_from_args(_parse("batch", "src", "-o", "dst"))


def test_verify_reads_the_policy_options_like_anonymize() -> None:
    policy_argv = ["--operator", "fill", "--shape", "ellipse", "--mask-scale", "1.7", "--kinds", "faces"]
    attacker = verify_cli.attacker_options(_parse("verify", "a.mp4", "b.mp4", *policy_argv))
    assert attacker is not None and attacker.quiet
    anonymize = cli.options_from_args(_parse("anonymize", "in.mp4", "-o", "out.mp4", *policy_argv))
    assert attacker.policy == anonymize.policy and attacker.kinds == anonymize.kinds == ("face",)
    assert verify_cli.attacker_options(_parse("verify", "a.mp4", "b.mp4")) is None


@pytest.mark.parametrize("command", [["anonymize", "in.h264", "-o", "o.mp4"], ["batch", "src", "-o", "dst"]])
def test_shared_options_are_validated_alike(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    for bad in (["--fps", "fast"], ["--small-faces", "sometimes"], ["--basis", "whim"]):
        with pytest.raises(SystemExit) as exc:
            cli.main([*command, *bad])
        assert exc.value.code == 2
        assert f"gamyeon: error: argument {bad[0]}" in capsys.readouterr().err
