"""Real public Sichuan frame (see README.md here for sources and licences)."""
