"""The attribution engine: journeys in, credits out.

Entry points (see attribution.api): attribute(touches, model, options),
attribute_many(touches, {name: model}, options) (prepare once, run many) and
channel_summary(credits). Rule-based models are DSL programs (presets in
attribution/presets/); markov, shapley and algorithmic are data-driven.
No web framework, orchestrator or database imports here.
"""

from attribution.api import attribute, attribute_many, channel_summary, run_model
from attribution.errors import MIN_PATHS, InsufficientDataError
from attribution.journeys import InputError, JourneyOptions, Journeys, prepare, prepare_table
from attribution.models import UnknownModel, list_models, list_presets, load_model

__all__ = [
    "MIN_PATHS",
    "InputError",
    "InsufficientDataError",
    "JourneyOptions",
    "Journeys",
    "UnknownModel",
    "attribute",
    "attribute_many",
    "channel_summary",
    "list_models",
    "list_presets",
    "load_model",
    "prepare",
    "prepare_table",
    "run_model",
]
