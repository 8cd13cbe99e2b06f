"""auditkit: certify the quality of an image classifier's explanations."""

__version__ = "0.1.0"
