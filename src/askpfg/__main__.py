import sys

from askpfg.cli import main

sys.exit(main())
