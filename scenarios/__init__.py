"""The bundled scenario files, installed as ``optimizer.scenario_data`` (see optimizer.paths)."""
