"""The encoder under evaluation: finding and building it (``loading``), what identifies what it
computes (``fingerprint``), and the interface checks whose messages say what to fix (``checks``)."""

from pytest_xares.encoder.loading import EncoderError, EncoderSpec, LoadedEncoder, build, describe_error, load_class

__all__ = ["EncoderError", "EncoderSpec", "LoadedEncoder", "build", "describe_error", "load_class"]
