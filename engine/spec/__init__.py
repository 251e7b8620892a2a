"""The experiment file and what it names: dataclasses and migrations, the layer catalogue, the wiring
graph, differences between experiments."""
