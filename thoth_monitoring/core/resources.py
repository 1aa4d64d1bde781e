"""Files the package ships (rules, dashboards, templates, the default metric set, SLOs), found
through ``importlib.resources`` so that they resolve the same from a checkout, an editable
install and a wheel, whatever the working folder."""

from importlib.resources import files
from pathlib import Path


def package_file(package: str, name: str) -> Path:
    """``name`` inside ``package``, as a path (the loaders and error messages want one; installed
    packages are folders, never zip files)."""
    resource = files(package) / name
    if not isinstance(resource, Path):
        raise RuntimeError(f"{package} is not installed as a folder: cannot read {name}")
    return resource
