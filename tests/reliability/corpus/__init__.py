"""The bad-input corpus: Otus export cases and SIS answer cases, each with its expected outcome."""
