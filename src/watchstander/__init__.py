"""watchstander: safe production releases from the first canary to the end of hypercare."""

__version__ = "0.1.0"
__all__ = ["__version__"]
