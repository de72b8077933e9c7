"""DVC stage `bento`: see dvc.yaml for its inputs and outputs, and `oncofusion bento --help`."""

import sys

from oncofusion.cli import main

if __name__ == "__main__":
    main(["bento", *sys.argv[1:]])
