"""The bottom layer: helpers that data, density, classifiers, methods, evaluation and the bump
hunt share (files, devices and threads, input validation, the training loop, seeds, plot
style, the registry of methods and classifiers). It imports nothing from the layers above.
"""
