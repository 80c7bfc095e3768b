from tunesmith.plan.choices import Choice, Estimate, Plan
from tunesmith.plan.hardware import Hardware, detect_hardware
from tunesmith.plan.make import decoding_settings, generation_batch, generation_settings, make_plan
from tunesmith.plan.model_info import ModelInfo, read_model_info
from tunesmith.plan.profile import DataProfile, LengthStats, profile_splits

__all__ = [
    "Choice",
    "DataProfile",
    "Estimate",
    "Hardware",
    "LengthStats",
    "ModelInfo",
    "Plan",
    "detect_hardware",
    "decoding_settings",
    "generation_batch",
    "generation_settings",
    "make_plan",
    "profile_splits",
    "read_model_info",
]
