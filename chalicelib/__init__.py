"""imbill: billing backend of a cloud IM service."""
