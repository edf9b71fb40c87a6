"""Raw-array kernels, one package per backend. Never imports ``framework``."""
