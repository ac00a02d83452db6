"""The artist's controls over a run: colour preservation and region masks."""
