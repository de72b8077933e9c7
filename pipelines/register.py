"""DVC stage `register`: see dvc.yaml for its inputs and outputs, and `oncofusion register --help`."""

import sys

from oncofusion.cli import main

if __name__ == "__main__":
    main(["register", *sys.argv[1:]])
