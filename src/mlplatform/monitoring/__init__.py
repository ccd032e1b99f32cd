"""Closing the loop, as pure logic: realized quality from labels (with bootstrap intervals), the
label-free estimate from calibrated probabilities, and the retrain policy. No I/O here: the
flows read labels and predictions and hand over arrays."""
