"""WCT (Li et al. 2017), the torch side: any painting, no training per style.

- :mod:`.transform`  whitening and colouring of VGG19 features (the transform itself)
- :mod:`.models`     the VGG19 encoders and the decoders that invert them, level 1..5
- :mod:`.stylize`    multi-level stylisation, texture synthesis, mixtures, masked regions
- :mod:`.trainer`    training a decoder (the shared run loop; ``rtstyle train-wct``)
- :mod:`.export`     the real-time ONNX graphs the runtime (:mod:`rtstyle.wct_realtime`) runs
"""
