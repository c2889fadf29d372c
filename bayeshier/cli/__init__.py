"""Layer 5: the ``bayeshier`` command line, model files and the HTML report.

Nothing in the package imports this layer. Its modules, each with one job:

=========================  ======================================================
:mod:`.main`               argument parsing, dispatch, exit statuses, the small commands
:mod:`.run`                ``bayeshier run``: every model of a file, into one staged output
:mod:`.model_run`          one model: fit (REML or Laplace), sample, compare, draw, save
:mod:`.predictive_checks`  statistics of the data against posterior predictive replicates
:mod:`.writing`            the files of a run: report, comparison CSV, posterior (zarr)
:mod:`.output_folder`      the output written aside, moved into place only when complete
:mod:`.manifest`           the list of files bayeshier wrote in an output folder
:mod:`.interrupts`         Ctrl-C: exit 130, saying what was kept
:mod:`.figures`            the one plot registry, and drawing its plots to PNG
:mod:`.plot_types`         the kinds of plot, what they are drawn from, when they are not
:mod:`.modelfile`          the model-file schema: TOML in, a validated ``ModelFile`` out
:mod:`.schema_checks`      checks of single values in a model file, and its error message
:mod:`.model_data`         a model's data (bundled, CSV, Parquet); numbers with stray values
:mod:`.section_meta`       the key/value tables at the top of a model's report section
:mod:`.html_report`        the self-contained HTML page
:mod:`.report_sections`    the parts of a model's section that differ by model
:mod:`.html_tables`        plain HTML tables and escaping
:mod:`.console`            the ``bayeshier:`` lines on stderr
=========================  ======================================================
"""

from bayeshier.cli.main import main

__all__ = ["main"]
