"""DVC stage `dna_finetune`: see dvc.yaml for its inputs and outputs, and `oncofusion dna-finetune --help`."""

import sys

from oncofusion.cli import main

if __name__ == "__main__":
    main(["dna-finetune", *sys.argv[1:]])
