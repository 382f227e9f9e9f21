"""``python -m sunpy_enhance``: the ``sunpy-enhance`` command line."""
import sys

from sunpy_enhance.cli import main

if __name__ == "__main__":
    sys.exit(main())
