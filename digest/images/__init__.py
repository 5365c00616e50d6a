"""The pictures of an edition, fetched once, checked, converted and served by the service."""
