"""
The package version, from the git tag at build time (setuptools_scm), for every module that records it.
"""
try:
    from sunpy_enhance._version import __version__
except ImportError:  # a source tree that was never built or installed
    from importlib.metadata import PackageNotFoundError, version

    try:
        __version__ = version("sunpy-enhance")
    except PackageNotFoundError:
        __version__ = "0.0.0"

__all__ = ["__version__"]
