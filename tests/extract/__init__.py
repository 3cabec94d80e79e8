"""Tests of the extract layer: OneRoster client, Otus reader, extract assets."""
