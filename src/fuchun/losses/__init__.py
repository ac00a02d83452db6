"""The losses of fuchun, one small module each.

Every style/content term is normalised by the energy of its own target (the mean square
of the target statistic), so a term's value is a relative error: about 1 when nothing
matches and 0 at the target, whatever the layer, the image size or the backbone. This is
what lets one set of default weights work from 256 to 2048 px (see ``fuchun.config.options``).
"""

from fuchun.losses.content import ContentLoss, content_loss
from fuchun.losses.gram import GramLoss, gram_matrix
from fuchun.losses.histogram import HistogramLoss, histogram_match, quantile_table
from fuchun.losses.shifted import ShiftedGramLoss, shifted_gram
from fuchun.losses.sliced import SlicedWassersteinLoss, sliced_wasserstein
from fuchun.losses.temporal import TemporalLoss, TemporalTarget, temporal_loss
from fuchun.losses.tv import TVLoss, total_variation
from fuchun.losses.wasserstein import WassersteinLoss, gaussian_moments, gaussian_w2, trace_sqrt

__all__ = [
    "ContentLoss",
    "GramLoss",
    "HistogramLoss",
    "ShiftedGramLoss",
    "SlicedWassersteinLoss",
    "TVLoss",
    "TemporalLoss",
    "TemporalTarget",
    "WassersteinLoss",
    "content_loss",
    "gaussian_moments",
    "gaussian_w2",
    "gram_matrix",
    "histogram_match",
    "quantile_table",
    "shifted_gram",
    "sliced_wasserstein",
    "temporal_loss",
    "total_variation",
    "trace_sqrt",
]
