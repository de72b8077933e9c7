"""DVC stage `validate`: see dvc.yaml for its inputs and outputs, and `oncofusion validate --help`."""

import sys

from oncofusion.cli import main

if __name__ == "__main__":
    main(["validate", *sys.argv[1:]])
