"""A finished run reopened: predictions on its test set, galleries, feature maps, the person's own input."""
