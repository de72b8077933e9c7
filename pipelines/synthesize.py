"""DVC stage `synthesize`: see dvc.yaml for its inputs and outputs, and `oncofusion synthesize --help`."""

import sys

from oncofusion.cli import main

if __name__ == "__main__":
    main(["synthesize", *sys.argv[1:]])
