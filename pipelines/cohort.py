"""DVC stage `cohort`: see dvc.yaml for its inputs and outputs, and `oncofusion cohort --help`."""

import sys

from oncofusion.cli import main

if __name__ == "__main__":
    main(["cohort", *sys.argv[1:]])
