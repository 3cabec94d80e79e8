"""Sink layer: accepted line items and results written to each district's SIS."""

from assets.sink.sis_sync import SinkConfig, sis_gradebook, sis_sync, sis_sync_job

__all__ = ["SinkConfig", "sis_gradebook", "sis_sync", "sis_sync_job"]
