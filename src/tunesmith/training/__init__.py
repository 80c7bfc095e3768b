from tunesmith.training.trainer import TrainResult, peak_memory_gb, train

__all__ = ["TrainResult", "peak_memory_gb", "train"]
