"""The synthetic sample: townships, facilities and roads inside the real public frame."""

from optimizer.sample.build import MOUNTAIN_PREFIXES, Sample, build_sample, write_sample

__all__ = ["MOUNTAIN_PREFIXES", "Sample", "build_sample", "write_sample"]
