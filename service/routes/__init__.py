"""HTTP routes: each module translates HTTP to the data plane (`service.predictor`) and back."""
