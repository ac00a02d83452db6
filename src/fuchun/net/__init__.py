"""The network: VGG architectures as data, the backbones' table, a feature extractor of named layers."""
