"""The pytest plugin's entry point (``pytest11``: ``septum``).

Fixtures are defined in this module's siblings and re-exported here, so
that pytest finds them in any project that installs Septum.
"""
