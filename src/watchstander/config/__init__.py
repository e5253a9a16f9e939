"""watchstander.yaml: models, loader with file:line errors, and the `init` template."""
