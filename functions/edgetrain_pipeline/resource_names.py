"""Google resource names (`projects/P/locations/L/datasets/ID`): the last segment is the resource's ID."""


def resource_id(name: str) -> str:
    """The ID a resource name ends with; a bare ID comes back as it is."""
    return name.rsplit("/", 1)[-1]
