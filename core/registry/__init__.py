"""The model registry: models and their cards, versions with hold-out metrics, datasets and artifacts."""
