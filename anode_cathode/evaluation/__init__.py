"""ROC and SIC curves, their spread over seeds, plots and summary tables."""
