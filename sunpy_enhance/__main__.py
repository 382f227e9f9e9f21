import sys

from sunpy_enhance.cli import main

sys.exit(main())
