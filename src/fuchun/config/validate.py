"""Checks that need the whole resolved config: layer names against the chosen network.

Each option's own range is checked by its parser (:mod:`fuchun.config.parse`); what can
only be judged with other options is checked here, before any image is read or any
network is loaded: every layer named must exist in the backbone's architecture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fuchun.errors import UsageError
from fuchun.net.architectures import layer_names

if TYPE_CHECKING:
    from fuchun.config.options import Config

# option -> its command-line spelling, for the messages
_LAYER_OPTIONS = {
    "content_layers": "--content-layers",
    "style_layers": "--style-layers",
    "hist_layers": "--hist-layers",
    "w2_layers": "--w2-layers",
    "shifts": "--shift",
}


def backbone_arch(backbone: str) -> str:
    """The architecture ("vgg16" | "vgg19") of a backbone name."""
    from fuchun.weights.sources import BACKBONES

    return BACKBONES[backbone].arch


def check_config(cfg: Config) -> None:
    """Raise UsageError if a resolved ``cfg`` is impossible as a whole (layers its network lacks)."""
    check_layers(cfg)
    check_layer_weights(cfg)


def check_layer_weights(cfg: Config) -> None:
    """Raise UsageError where a list of layer weights does not have one weight per layer."""
    for kind in ("content", "style"):
        weights, layers = getattr(cfg, f"{kind}_layer_weights"), getattr(cfg, f"{kind}_layers")
        if weights is not None and len(weights) != len(layers):
            raise UsageError(
                f"--{kind}-layer-weights: {len(weights)} weight(s) for {len(layers)} {kind} layer(s) "
                f"({', '.join(layers)}); give one per layer"
            )


def check_layers(cfg: Config) -> None:
    """Raise UsageError naming the option and listing the valid names for an unknown layer."""
    arch = backbone_arch(cfg.backbone)
    valid = layer_names(arch)
    network = cfg.backbone if cfg.backbone == arch else f"{cfg.backbone} ({arch})"
    for name, flag in _LAYER_OPTIONS.items():
        unknown = [layer for layer in getattr(cfg, name) or () if layer not in valid]
        if unknown:
            raise UsageError(f"{flag}: {', '.join(unknown)} is not a layer of {network}; valid: {', '.join(valid)}")
