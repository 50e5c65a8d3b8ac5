"""Framework-free utilities: secrets, hashing, clocks."""
