"""DVC stage `dna_classify`: see dvc.yaml for its inputs and outputs, and `oncofusion dna-classify --help`."""

import sys

from oncofusion.cli import main

if __name__ == "__main__":
    main(["dna-classify", *sys.argv[1:]])
