"""The content-keyed cache: ``keys`` says what each entry depends on, ``store`` keeps entries
atomically under their keys."""
