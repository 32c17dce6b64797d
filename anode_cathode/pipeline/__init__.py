"""One function per workflow step: read the step's inputs, call the library, write its outputs."""
