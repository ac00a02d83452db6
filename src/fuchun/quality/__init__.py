"""Measures of a stylised picture against its photo and its painting (:mod:`fuchun.quality.measures`)."""
