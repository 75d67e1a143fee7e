"""Writing what a run produces: image grids, animations and sample files."""

from ganforge.report.images import image_grid, save_gif, save_grid, write_samples

__all__ = ["image_grid", "save_gif", "save_grid", "write_samples"]
