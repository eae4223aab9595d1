"""Studies of what makes an attack succeed (Kovalev & Voynov 2019): ε, iterations, confidence, data, resolution."""
