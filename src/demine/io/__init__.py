"""Reading and writing interchange formats (GeoJSON)."""
