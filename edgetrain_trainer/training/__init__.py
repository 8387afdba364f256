"""Training: the stage loop (loop.py) and the two stages built on it (stages.py), with the budget clock,
the learning-rate schedule, the frozen-backbone feature cache and the weight averages they use."""
