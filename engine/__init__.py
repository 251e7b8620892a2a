"""Tapedeck's engine: experiments, checking, building, data and training. Never imports Qt."""
