"""The built-in models where decaylab 0.2 kept them, so task files that import from here run unchanged.

Their home is :mod:`decaylab.lab.task.builtin.models`.
"""

from decaylab.lab.task.builtin.models import BasicBlock, CharTransformer, ResNet20, mnist1d_cnn, mnist1d_mlp

__all__ = ["BasicBlock", "CharTransformer", "ResNet20", "mnist1d_cnn", "mnist1d_mlp"]
