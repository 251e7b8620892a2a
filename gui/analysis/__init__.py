"""The Analysis tab and its views over a reopened run: confusion matrix, galleries, own input, feature maps."""
