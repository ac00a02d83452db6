"""The backbone's pretrained weights: where they come from (``sources``), how they are
checked and stored (``files``), and the HED file reader (``hed``)."""

from fuchun.weights.sources import cached_status, fetch_weights, load_weights

__all__ = ["cached_status", "fetch_weights", "load_weights"]
