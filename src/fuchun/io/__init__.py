"""Images in and out: reading any file Pillow opens (``read``), writing atomically
(``write``), and the exact 16-bit codecs (``codec16``)."""
