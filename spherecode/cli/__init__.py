"""The ``spherecode`` command line: thin layers that parse, call the public API and print."""
