"""The drift benchmark: the drift job against Evidently on 100,000 reference and 1,000,000 current rows."""
