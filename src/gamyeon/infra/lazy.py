"""Public names of a package, imported when first used (PEP 562).

Importing ``gamyeon.a.b`` runs ``gamyeon/__init__`` and ``gamyeon/a/__init__`` first. A package
``__init__`` that imported its submodules would therefore sit in an import cycle with each of them
(the submodule imports its package, the package imports the submodule), and every module of the
package, however small, would load the whole stack behind it. So a package ``__init__`` names its
public API here, lazily, and lists the same imports under ``if TYPE_CHECKING:`` for type checkers:
``from gamyeon import anonymize`` works as before, and ``import gamyeon.types`` stays cheap.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def exports(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for ``names`` (public name -> defining module).

    A name is imported on first access and then stored in the package, so later accesses are
    ordinary attribute look-ups. Unknown names raise ``AttributeError``, which also lets
    ``from package import submodule`` fall through to importing the submodule.
    """

    def getattr_(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value: object = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def dir_() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return getattr_, dir_
