"""Checks that need the whole resolved config: layer names against the chosen network, and
one weight per layer where layer weights are given.

Each option's own range is checked by its parser (:mod:`fuchun.config.parse`); what can
only be judged with other options is checked here, before any image is read or any
network is loaded. The layer options are the loss terms' (:data:`fuchun.losses.terms.TERMS`).
"""

from __future__ import annotations

from typing import Any

from fuchun.errors import UsageError
from fuchun.losses.terms import TERMS
from fuchun.net.architectures import layer_names
from fuchun.net.backbones import backbone_spec


def _flag(name: str) -> str:
    """The command-line spelling of option ``name``."""
    for term in TERMS:
        for o in term.options:
            if o.name == name:
                return o.flag or "--" + name.replace("_", "-")
    return "--" + name.replace("_", "-")


def check_config(cfg: Any) -> None:
    """UsageError if a resolved :class:`fuchun.config.options.Config` is impossible as a whole."""
    check_layers(cfg)
    check_layer_weights(cfg)


def check_layer_weights(cfg: Any) -> None:
    """UsageError where a list of layer weights does not have one weight per layer."""
    for term in TERMS:
        option = term.option("layer_weights")
        weights = None if option is None else getattr(cfg, option)
        layers = term.layers(cfg)
        if weights is not None and len(weights) != len(layers):
            raise UsageError(
                f"{_flag(option)}: {len(weights)} weight(s) for {len(layers)} {option.split('_')[0]} layer(s) "
                f"({', '.join(layers)}); give one per layer"
            )


def check_layers(cfg: Any) -> None:
    """UsageError naming the option and listing the valid names for a layer the network lacks."""
    arch = backbone_spec(cfg.backbone).arch
    valid = layer_names(arch)
    network = cfg.backbone if cfg.backbone == arch else f"{cfg.backbone} ({arch})"
    for term in TERMS:
        option = term.option("layers") or term.option("shifts")
        unknown = [layer for layer in term.layers(cfg) if layer not in valid]
        if unknown:
            raise UsageError(
                f"{_flag(option)}: {', '.join(unknown)} is not a layer of {network}; valid: {', '.join(valid)}"
            )
