"""The workbench app: configuration, and (in later issues) auth, the provider gateway and pages."""
