"""SMART: monitoring of Kodeks / Techexpert installations."""
