"""Data sources and the file readers behind them: arrays and class names for every data set, checked before training."""
