"""Where served embeddings are computed: ONNX Runtime (default, ~2x faster on CPU) or eager torch.

Both run the same graph with the same weights: :func:`check_equivalence` bounds their difference, and the service
refuses to start with an ONNX graph that does not reproduce torch's embeddings.
"""

from __future__ import annotations

import io
import logging
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import nn

from .encoder import FaceEncoder

logger = logging.getLogger(__name__)

RuntimeName = Literal["onnx", "torch"]
# embeddings are unit vectors; float32 reordering across runtimes moves components by ~1e-6
EQUIVALENCE_TOLERANCE = 1e-4


class EmbeddingRuntime(ABC):
    """Normalised face batches (N, 3, H, W) -> L2-normalised embeddings (N, D), float32."""

    name: str

    @abstractmethod
    def embed_batch(self, batch: torch.Tensor) -> np.ndarray: ...

    def embed_views(self, views: Sequence[torch.Tensor]) -> np.ndarray:
        """The same faces at several test input sizes (:func:`facerec.model.preprocess.preprocess_views`) -> the
        normalised mean of each size's embedding (one size: its embedding as it is)."""
        embeddings = [self.embed_batch(view) for view in views]
        if len(embeddings) == 1:
            return embeddings[0]
        mean = np.mean(embeddings, axis=0)
        return (mean / np.linalg.norm(mean, axis=1, keepdims=True)).astype(np.float32, copy=False)


class TorchRuntime(EmbeddingRuntime):
    """``flip_tta``: None = as the encoder's config says (what is served); a bool overrides it (e.g. dev selection)."""

    name = "torch"

    def __init__(self, encoder: FaceEncoder, flip_tta: bool | None = None):
        self.encoder = encoder
        self.flip_tta = flip_tta

    def embed_batch(self, batch: torch.Tensor) -> np.ndarray:
        return self.encoder.embed_batch(batch, self.flip_tta).cpu().numpy().astype(np.float32, copy=False)


class _InferenceGraph(nn.Module):
    def __init__(self, encoder: FaceEncoder, flip_tta: bool | None = None):
        super().__init__()
        self.encoder = encoder
        self.flip_tta = encoder.config.flip_tta if flip_tta is None else flip_tta

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder.inference_forward(images, self.flip_tta)


def export_onnx(
    module: nn.Module, example: torch.Tensor, outputs: list[str], dynamic_dims: tuple[int, ...] = (0,)
) -> bytes:
    """``module`` (in eval mode) as an ONNX graph with one input; ``dynamic_dims`` of the input may vary.

    Every submodule gets back its own mode afterwards: ``module`` may be a new wrapper (in training mode, as modules
    start) around an encoder in eval mode, or the reverse, in the middle of training."""
    modes = {sub: sub.training for sub in module.modules()}
    module.eval()
    buffer = io.BytesIO()

    def axes(tensor: str) -> dict[int, str]:
        return {dim: f"{tensor}_{dim}" for dim in dynamic_dims}

    try:
        # the TorchScript exporter (deprecated, still in the pinned torch) exports these plain CNNs in ~1 s with only
        # `onnx` installed; torch.export's exporter would add onnxscript and its dependencies
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                module,
                (example,),
                buffer,
                input_names=["input"],
                output_names=outputs,
                # outputs vary along the dimensions the input does (batch; height and width if fully convolutional)
                dynamic_axes={name: axes(name) for name in ["input", *outputs]},
                opset_version=17,
                dynamo=False,
            )
    finally:
        for sub, training in modes.items():
            sub.training = training
    return buffer.getvalue()


def onnx_session(model: bytes, threads: int = 1):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # idle threads must not spin: other requests and the detector share the same cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class OnnxModule(nn.Module):
    """Stands in for a torch module at inference: same inputs and outputs (tensors), computed by ONNX Runtime."""

    def __init__(self, module: nn.Module, example: torch.Tensor, outputs: list[str], dynamic_dims=(0,), threads=1):
        super().__init__()
        self.session = onnx_session(export_onnx(module, example, outputs, dynamic_dims), threads)
        # callers such as facenet-pytorch read the model's dtype from its first parameter
        self.dtype_probe = nn.Parameter(torch.zeros(0), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        results = tuple(torch.from_numpy(r) for r in self.session.run(None, {"input": x.float().contiguous().numpy()}))
        return results[0] if len(results) == 1 else results


class OnnxRuntime(EmbeddingRuntime):
    name = "onnx"

    def __init__(self, encoder: FaceEncoder, image_size: int, threads: int = 1, flip_tta: bool | None = None):
        example = torch.zeros(2, 3, image_size, image_size)
        # batch, height and width vary: one graph serves every test input size of the bundle
        self.graph = OnnxModule(
            _InferenceGraph(encoder, flip_tta), example, ["embeddings"], dynamic_dims=(0, 2, 3), threads=threads
        )

    def embed_batch(self, batch: torch.Tensor) -> np.ndarray:
        return self.graph(batch).numpy().astype(np.float32, copy=False)


def check_equivalence(reference: EmbeddingRuntime, candidate: EmbeddingRuntime, image_size: int) -> float:
    """Largest absolute difference between the two runtimes' embeddings of a fixed random batch."""
    batch = torch.rand(3, 3, image_size, image_size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return float(np.abs(reference.embed_batch(batch) - candidate.embed_batch(batch)).max())


def create_runtime(
    encoder: FaceEncoder,
    image_sizes: int | Sequence[int],
    name: RuntimeName = "onnx",
    threads: int = 1,
    flip_tta: bool | None = None,
) -> EmbeddingRuntime:
    """The requested runtime; ONNX is exported from ``encoder`` and checked against it, at every test input size,
    before use.

    ``flip_tta``: None = as the encoder's config says; a bool overrides it."""
    sizes = [image_sizes] if isinstance(image_sizes, int) else list(image_sizes)
    torch_runtime = TorchRuntime(encoder, flip_tta)
    if name == "torch":
        return torch_runtime
    runtime = OnnxRuntime(encoder, sizes[0], threads, flip_tta)
    difference = max(check_equivalence(torch_runtime, runtime, size) for size in sizes)
    if difference > EQUIVALENCE_TOLERANCE:
        raise RuntimeError(
            f"the ONNX export differs from the torch encoder by {difference:.2e} (> {EQUIVALENCE_TOLERANCE}); "
            "set INFERENCE_RUNTIME=torch"
        )
    logger.info("ONNX Runtime encoder ready (max difference to torch %.1e)", difference)
    return runtime
