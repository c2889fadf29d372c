"""Layer 5: the ``bayeshier`` command line, model files and the HTML report.

Nothing in the package imports this layer. Its modules, each with one job:

=====================  ==========================================================
:mod:`.main`           argument parsing, dispatch, exit statuses, the small commands
:mod:`.run`            ``bayeshier run``: prepare, sample, save and report each model
:mod:`.figures`        the one plot registry, and drawing its plots to PNG
:mod:`.modelfile`      the model-file schema: TOML in, a validated ``ModelFile`` out
:mod:`.schema_checks`  checks of single values in a model file, and its error message
:mod:`.model_data`     a model's data: a bundled data set, or a CSV / Parquet file
:mod:`.section_meta`   the key/value tables at the top of a model's report section
:mod:`.html_report`    the self-contained HTML page
:mod:`.console`        the ``bayeshier:`` lines on stderr
=====================  ==========================================================
"""

from bayeshier.cli.main import main

__all__ = ["main"]
