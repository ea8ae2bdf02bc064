"""The drift job: compare the inputs captured by the predictor with the reference rows of the served version.

`python -m drift run --help` lists the options; `drift.job.run_drift_check` is the Python entry point.
"""

from __future__ import annotations


class DriftError(Exception):
    """The check could not run for a reason the user can fix; the CLI prints it as one line and exits 1."""
