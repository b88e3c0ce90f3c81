"""Pure-function core: data formats, tag schemes, augmentation, losses, schedules, metrics.

Nothing in this package imports Streamlit, touches files or the network, or keeps
mutable global state; randomness comes in as a seed or a numpy Generator.
"""
