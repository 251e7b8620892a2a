"""What a run's step does — one module per training objective (classify, gan, …) — and ``run``, which picks it."""
