"""Data: the phantom generator, ChestX-ray14, splits and the preprocessing cache."""
from cxrbench.data import chexpert_source, nih_source, padchest_source, phantom_source, siim_source  # noqa: F401  (register the sources)
from cxrbench.data.sources import create_data_source, data_source_class, list_data_sources, register_data_source

__all__ = ["create_data_source", "data_source_class", "list_data_sources", "register_data_source"]
