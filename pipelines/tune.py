"""DVC stage `tune`: see dvc.yaml for its inputs and outputs, and `oncofusion tune --help`."""

import sys

from oncofusion.cli import main

if __name__ == "__main__":
    main(["tune", *sys.argv[1:]])
