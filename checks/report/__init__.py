"""The quality-check report of one district and grading period (HTML and CSV)."""
