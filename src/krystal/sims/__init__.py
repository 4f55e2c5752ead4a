"""Domain simulators with the Gymnasium ``reset``/``step`` signature (standard library only)."""
