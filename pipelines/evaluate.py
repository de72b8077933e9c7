"""DVC stage `evaluate`: see dvc.yaml for its inputs and outputs, and `oncofusion evaluate --help`."""

import sys

from oncofusion.cli import main

if __name__ == "__main__":
    main(["evaluate", *sys.argv[1:]])
