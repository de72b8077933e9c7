"""DVC stage `train`: see dvc.yaml for its inputs and outputs, and `oncofusion train --help`."""

import sys

from oncofusion.cli import main

if __name__ == "__main__":
    main(["train", *sys.argv[1:]])
