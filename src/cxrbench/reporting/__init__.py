"""Result records, manifests and (later) tables and figures."""
