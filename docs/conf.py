"""
Configuration of the Sphinx documentation of sunpy-enhance.

Built with ``tox -e build_docs`` (warnings are errors). The build works without the internet:

* intersphinx links to sunpy, astropy, numpy, … are made only when their inventories can be reached;
  ``SUNPY_ENHANCE_DOCS_INTERSPHINX=0`` switches them off, ``=1`` forces them on (then an unreachable
  inventory fails the build), and by default a quick DNS check decides;
* the gallery runs on the synthetic HMI-like maps that the package makes itself
  (`sunpy_enhance.sample`), with the bundled models;
* the bundled model cards and the unreleased changelog fragments are rendered at build time by the
  local extension ``_ext/sunpy_enhance_docs.py``, so those pages cannot go stale.
"""
import datetime
import importlib.util
import os
import socket
import sys
import warnings
from pathlib import Path

from packaging.version import Version

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "agg")
os.environ.setdefault("PARFIVE_HIDE_PROGRESS", "True")

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

from sunpy_sphinx_theme import PNG_ICON  # noqa: E402

from sunpy_enhance import __version__  # noqa: E402

# -- Project -----------------------------------------------------------------------------------------
project = "sunpy-enhance"
author = "The sunpy-enhance developers"
copyright = f"{datetime.datetime.now(datetime.UTC).year}, {author}"
_version = Version(__version__)
release = __version__
version = (f"{_version.base_version}.dev{_version.dev}" if _version.is_devrelease else _version.base_version)

# Deprecations in what the examples call should be fixed, not shipped in the gallery.
from astropy.utils.exceptions import AstropyDeprecationWarning  # noqa: E402
from matplotlib import MatplotlibDeprecationWarning  # noqa: E402
from sunpy.util.exceptions import SunpyDeprecationWarning, SunpyPendingDeprecationWarning  # noqa: E402

for _category in (SunpyDeprecationWarning, SunpyPendingDeprecationWarning, MatplotlibDeprecationWarning,
                  AstropyDeprecationWarning):
    warnings.filterwarnings("error", category=_category)

# -- General -----------------------------------------------------------------------------------------
extensions = [
    "matplotlib.sphinxext.plot_directive",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.extlinks",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_automodapi.automodapi",
    "sphinx_automodapi.smart_resolver",
    "sphinx_gallery.gen_gallery",
    "sunpy_enhance_docs",
]
# Math is rendered by MathJax in the reader's browser. With the ``sphinx-mathjax-offline`` package
# installed (docs extra), MathJax is copied into the built site, so pages render their equations
# without the internet (a local build opened from disk, an air-gapped mirror); without it, MathJax
# comes from its CDN.
if importlib.util.find_spec("sphinx-mathjax-offline") is not None:
    extensions.append("sphinx-mathjax-offline")
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/sg_execution_times.rst"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
# Smart quotes, but "--" stays two hyphens (command-line options in model cards and prose).
smartquotes_action = "qe"
# Single back-quotes make a Python cross-reference, as in sunpy's documentation.
default_role = "obj"
# ``:doi:`10.1051/...``` in docstrings and pages.
extlinks = {"doi": ("https://doi.org/%s", "doi:%s"), "arxiv": ("https://arxiv.org/abs/%s", "arXiv:%s")}

# numpydoc renders the docstrings; automodapi lists the members, so numpydoc must not list them again.
numpydoc_show_class_members = False
automodapi_toctreedirnm = "api"
automodsumm_inherited_members = False
autodoc_typehints = "none"

# -- intersphinx (offline-safe) -----------------------------------------------------------------------
_INTERSPHINX = {
    "python": ("https://docs.python.org/3/", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
    "matplotlib": ("https://matplotlib.org/stable/", None),
    "astropy": ("https://docs.astropy.org/en/stable/", None),
    "sunpy": ("https://docs.sunpy.org/en/stable/", None),
    "drms": ("https://docs.sunpy.org/projects/drms/en/stable/", None),
    "parfive": ("https://parfive.readthedocs.io/en/stable/", None),
    "dask": ("https://docs.dask.org/en/stable/", None),
    "distributed": ("https://distributed.dask.org/en/stable/", None),
}


def _online(host="docs.sunpy.org", timeout=3.0):
    """Whether the documentation hosts can be reached (a DNS look-up and a TCP connection)."""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


_switch = os.environ.get("SUNPY_ENHANCE_DOCS_INTERSPHINX", "auto").lower()
if _switch in ("1", "true", "yes", "on") or (_switch == "auto" and _online()):
    intersphinx_mapping = _INTERSPHINX
    intersphinx_timeout = 10
else:
    # Offline: references to other packages are rendered as code, without links. Sphinx does not warn
    # about them because `nitpicky` is off for external names (see ``missing-reference`` in the extension).
    intersphinx_mapping = {}
    print("sunpy-enhance docs: intersphinx is off (no network, or SUNPY_ENHANCE_DOCS_INTERSPHINX=0); "
          "references to sunpy, astropy, numpy, ... are not linked.")

# Broken references to this package's own objects fail the build (external ones are tolerated offline,
# see the extension).
nitpicky = True

# -- HTML --------------------------------------------------------------------------------------------
html_theme = "sunpy"
html_title = f"sunpy-enhance {version}"
html_static_path = ["_static"]
html_theme_options = {
    "sst_project_name": "sunpy-enhance",
    # No visitor counting from an unaffiliated package's pages, and no request to a counter offline.
    "goatcounter_analytics_url": False,
    "footer_links": [
        ["Code", "https://github.com/sunpy-enhance/sunpy-enhance", 3],
        ["Issues", "https://github.com/sunpy-enhance/sunpy-enhance/issues", 3],
        ["Forum", "https://community.openastronomy.org/c/sunpy", 3],
        ["Chat", "https://openastronomy.element.io/#/room/#sunpy:openastronomy.org", 3],
    ],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False

# -- sphinx-gallery ------------------------------------------------------------------------------------
from sphinx_gallery.sorting import ExplicitOrder  # noqa: E402

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "generated/gallery",
    "backreferences_dir": "generated/modules",
    "doc_module": ("sunpy_enhance",),
    # Only ``plot_*.py`` scripts run at build time; the others (JSOC downloads, a Dask cluster) are shown.
    "filename_pattern": r"[\\/]plot_",
    "subsection_order": ExplicitOrder([f"../examples/{name}" for name in
                                       ("enhance", "denoising", "training", "scaling", "jsoc")]),
    "within_subsection_order": "FileNameSortKey",
    "default_thumb_file": PNG_ICON,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    # A failing example fails the build.
    "only_warn_on_example_error": False,
    "abort_on_example_error": False,
    "min_reported_time": 5,
    "show_memory": False,
    "reset_modules": ("matplotlib",),
    # Only what the examples print is shown, not the repr of a cell's last expression (an Axes, ...).
    "capture_repr": (),
}

# -- Local extension settings -----------------------------------------------------------------------
sunpy_enhance_repo_root = str(ROOT)


# -- "Try it in your browser" (docs/browser.rst): the page built in web/dist ----------------------------------
def _copy_browser_page(app, exception):
    """Copy web/dist (cd web && npm ci && npm run build) into the built site as browser/."""
    import shutil

    from sphinx.util import logging

    if exception is not None or app.builder.format != "html":
        return
    dist = ROOT / "web" / "dist"
    if (dist / "index.html").is_file():
        shutil.copytree(dist, Path(app.outdir) / "browser", dirs_exist_ok=True)
    else:
        logging.getLogger(__name__).info("web/dist is not built: the browser page's link leads nowhere")


def setup(app):
    app.connect("build-finished", _copy_browser_page)
