"""Built-in scenarios, registered through the same ``vigilare.scenarios`` entry points as third parties."""
