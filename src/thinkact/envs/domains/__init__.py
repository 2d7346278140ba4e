"""The bundled simulated domains: one module each, with its tools, role line and default state."""
