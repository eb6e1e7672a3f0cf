"""The synthetic sample: townships, facilities and roads inside the real public frame."""

from optimizer.sample.build import Sample, build_sample
from optimizer.sample.files import write_sample
from optimizer.sample.roads import MOUNTAIN_PREFIXES

__all__ = ["MOUNTAIN_PREFIXES", "Sample", "build_sample", "write_sample"]
