"""A city of districts: declared districts, the city warehouse, cross-district ties, the synthetic city."""
