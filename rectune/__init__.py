"""rectune: agentic tuning of multi-stage recommender configurations.

The public API is listed in `__all__`; everything else lives in the subpackages.
"""

from __future__ import annotations

from rectune.config import Context

__all__ = ["Context", "__version__"]

__version__ = "0.1.0"
