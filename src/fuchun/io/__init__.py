"""Images in and out: reading any file Pillow opens (``read``), writing atomically
(``write``), what both agree on (``formats``), and 16-bit PNG/TIFF through tifffile and
imagecodecs (``codec16``)."""
