"""DVC stage `split`: see dvc.yaml for its inputs and outputs, and `oncofusion split --help`."""

import sys

from oncofusion.cli import main

if __name__ == "__main__":
    main(["split", *sys.argv[1:]])
