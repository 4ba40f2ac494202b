"""Sample quality: the domain classifiers (`classifier`), the figures in their feature space
(`metrics`, numpy only) and `fashiongan evaluate` (`evaluator`)."""
