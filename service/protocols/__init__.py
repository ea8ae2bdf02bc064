"""Wire formats: each module turns a request body into a RawTable and predictions into a response."""
