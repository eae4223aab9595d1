"""Result records and manifests, and the paper's tables and figures rendered from records alone."""
