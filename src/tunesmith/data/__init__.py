from tunesmith.data.load import Splits, example_record, load_examples, load_splits, write_examples
from tunesmith.data.shapes import Example, FieldMap, detect_shape
from tunesmith.data.split import split_examples

__all__ = [
    "Example",
    "FieldMap",
    "Splits",
    "detect_shape",
    "example_record",
    "load_examples",
    "load_splits",
    "split_examples",
    "write_examples",
]
