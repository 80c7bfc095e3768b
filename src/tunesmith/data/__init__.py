from tunesmith.data.load import Splits, load_examples, load_splits
from tunesmith.data.shapes import Example, FieldMap, detect_shape
from tunesmith.data.split import split_examples

__all__ = ["Example", "FieldMap", "Splits", "detect_shape", "load_examples", "load_splits", "split_examples"]
