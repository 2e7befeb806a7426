"""Data files shipped with the package: class vocabularies and published reference scores."""
