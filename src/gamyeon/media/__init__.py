"""Media I/O. ``decode.py`` and ``encode.py`` are the only modules that import PyAV."""
