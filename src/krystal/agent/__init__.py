"""The agent API: the ergonomic CPython layer over the kernel (standard library only)."""
