"""Names of a package that import their module when first used.

The package and its ``experiments`` subpackage load their modules this way,
so that a light module (the command line's options, say) imports no torch.
"""

import importlib
import sys


def lazy_attributes(package, where):
    """Return the module-level ``__getattr__`` and ``__dir__`` of ``package``.

    ``where`` maps every lazily loaded name to its module, relative to
    ``package``. A name is imported on first use and then kept in the
    package's namespace, so later look-ups are ordinary.
    """

    def __getattr__(name):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{where[name]}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__
