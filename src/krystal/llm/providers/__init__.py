"""One adapter module per wire format; ``base.py`` holds the contract they share."""
