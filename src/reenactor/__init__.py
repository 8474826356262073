"""reenactor: one-shot, identity-preserving portrait reenactment on the CPU.

Public entry points::

    from reenactor import Reenactor, ReenactorConfig
"""

from reenactor.errors import ReenactorError

__version__ = "0.1.0"

__all__ = ["Reenactor", "ReenactorConfig", "ReenactorError", "__version__"]


def __getattr__(name: str):
    # Lazy imports keep `import reenactor` cheap (mediapipe is slow to import).
    if name == "Reenactor":
        from reenactor.api import Reenactor

        return Reenactor
    if name == "ReenactorConfig":
        from reenactor.config import ReenactorConfig

        return ReenactorConfig
    raise AttributeError(name)
