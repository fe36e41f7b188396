"""Data sets: build from sources (hub, files, generators), the on-disk format, validation, the loader.

- ``hrmkit.data.format``: the documented folder layout, ``write_dataset`` (atomic) and ``open_dataset``;
- ``hrmkit.data.build``: ``build(task, out, BuildParams(...))`` and the per-family recipes
  (``sudoku_recipe``, ``maze_recipe``, ``arc_recipe``), sources in ``hrmkit.data.sources``;
- ``hrmkit.data.validate``: ``validate(dir, report=None)``, the great-expectations suites;
- ``hrmkit.data.loader``: ``PuzzleDataset`` and the seeded, rank-aware, resumable ``BatchSampler``;
- ``hrmkit.data.show``: examples as text (Sudoku, mazes) or a PNG (ARC).
"""
