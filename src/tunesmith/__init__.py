"""tunesmith: small-data fine-tuning of small models.

Importing the package loads neither torch nor transformers; each command imports what it needs.
"""

__version__ = "0.1.0"
