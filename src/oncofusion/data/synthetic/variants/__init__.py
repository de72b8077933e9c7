"""The somatic-variant simulator: a synthetic genome, donors whose mutations are drawn from the COSMIC
signatures of their cancer type (the presets), and the MAF, VCF and FASTA files a real user would have."""
