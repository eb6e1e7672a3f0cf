"""Read and validate the planners' files once, and hand over :class:`Inputs`."""

from optimizer.inputs.files import detect_dbf_encoding, read_layer, read_table
from optimizer.inputs.reading import Inputs, find_inputs, load_inputs
from optimizer.inputs.roads import read_roads

__all__ = [
    "Inputs",
    "detect_dbf_encoding",
    "find_inputs",
    "load_inputs",
    "read_layer",
    "read_roads",
    "read_table",
]
