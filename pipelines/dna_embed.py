"""DVC stage `dna_embed`: see dvc.yaml for its inputs and outputs, and `oncofusion dna-embed --help`."""

import sys

from oncofusion.cli import main

if __name__ == "__main__":
    main(["dna-embed", *sys.argv[1:]])
