"""DVC stage `variants_simulate`: see dvc.yaml, and `oncofusion simulate-variants --help`."""

import sys

from oncofusion.cli import main

if __name__ == "__main__":
    main(["simulate-variants", *sys.argv[1:]])
