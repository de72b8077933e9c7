import numpy as np

from oncofusion.data.assembly import AUTOSOMES, autosome_bins, chromosome_table


def test_packaged_assembly_table_has_published_lengths():
    table = chromosome_table("grch38")
    assert table.loc["1", "length"] == 248_956_422
    assert table.loc["21", "length"] == 46_709_983
    assert (table["centromere"] < table["length"]).all()


def test_bins_cover_every_autosome_in_genome_order():
    bins = autosome_bins(110)
    assert len(bins) == 110
    assert list(dict.fromkeys(bins.chrom)) == AUTOSOMES
    table = chromosome_table()
    for chromosome in bins.chromosome_slices():
        name = bins.chrom[chromosome.start]
        assert chromosome.stop - chromosome.start >= 2
        assert bins.start[chromosome.start] == 0
        assert bins.end[chromosome.stop - 1] == table.loc[name, "length"]
        assert np.all(bins.start[chromosome][1:] == bins.end[chromosome][:-1])
    # Longer chromosomes get more bins.
    assert np.sum(bins.chrom == "1") > np.sum(bins.chrom == "21")
    assert "1p" in bins.arm_bins() and "1q" in bins.arm_bins()
