"""
Warning classes of sunpy-enhance and the one helper that raises them.
"""
import inspect
import warnings
from pathlib import Path

from sunpy.util.exceptions import SunpyUserWarning, SunpyWarning

__all__ = ["SunpyEnhanceUserWarning", "SunpyEnhanceWarning", "warn_user"]

_PACKAGE_DIR = Path(__file__).resolve().parent


class SunpyEnhanceWarning(SunpyWarning):
    """
    Base class of every warning sunpy-enhance emits (a `~sunpy.util.exceptions.SunpyWarning`, so that sunpy's
    warning filters catch it).
    """


class SunpyEnhanceUserWarning(SunpyUserWarning, SunpyEnhanceWarning):
    """
    A warning about how the package is being used or what the data allow,
    e.g. a field of view reaching the limb where the networks were not trained.
    """


def _stacklevel_outside_package():
    """
    The ``stacklevel`` that makes a warning point at the first frame outside this package.
    """
    level = 1
    frame = inspect.currentframe()
    try:
        frame = frame.f_back  # the caller of this helper (warn_user)
        while frame is not None:
            path = Path(frame.f_code.co_filename).resolve()
            if _PACKAGE_DIR not in path.parents:
                return level
            level += 1
            frame = frame.f_back
        return level
    finally:
        del frame


def warn_user(msg, category=SunpyEnhanceUserWarning):
    """
    Emit ``msg`` as a package warning attributed to the user's line of code.

    Parameters
    ----------
    msg : str
        What happened and what the user can do about it.
    category : type, optional
        A subclass of `SunpyEnhanceWarning`.
    """
    warnings.warn(msg, category, stacklevel=_stacklevel_outside_package())
