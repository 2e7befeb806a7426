"""The tasks of the X-ARES suite, one module each, every module exposing ``TASK``."""
