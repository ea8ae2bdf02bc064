"""The predictor: serves an MLflow registered model, follows its alias, exports metrics, records inputs."""
