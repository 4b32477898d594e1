"""A module that cannot be imported."""
raise ImportError("pyfs_broken refuses to load")
