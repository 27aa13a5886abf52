"""decaylab: weight decay in Adam-type optimizers, as optimizers and as studies."""

__version__ = "0.1.0"
