"""Images: the generated files on disk and the gallery of past calls."""
