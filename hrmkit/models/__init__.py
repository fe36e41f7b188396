"""HRM and TRM models: configs with named presets, the networks, their losses, and the checkpoint folder format.

    from hrmkit.models import ModelConfig, build, from_pretrained
    model = build(ModelConfig.from_name("tiny"))
    out = model.trace(inputs, steps=4)            # logits [4, B, L, V], q_halt_logits / q_continue_logits [4, B]
    model.save_pretrained("out/"); same = from_pretrained("out/")
"""

from hrmkit.models.base import PretrainedModel
from hrmkit.models.config import PRESETS, HRMConfig, ModelConfig, TRMConfig
from hrmkit.models.hrm import HRM, Carry
from hrmkit.models.trm import TRM

MODELS: dict[str, type[PretrainedModel]] = {"hrm_act_v1": HRM, "trm": TRM}


def build(config: ModelConfig) -> PretrainedModel:
    """A freshly initialised model for `config` (seed torch first for reproducible weights)."""
    return MODELS[config.arch](config)


def from_pretrained(directory, device="cpu") -> PretrainedModel:
    """The model saved in `directory` (model.safetensors + config.json), in eval mode."""
    return PretrainedModel.from_pretrained(directory, device=device)


__all__ = ["HRM", "TRM", "Carry", "HRMConfig", "TRMConfig", "ModelConfig", "PRESETS", "MODELS",
           "PretrainedModel", "build", "from_pretrained"]
