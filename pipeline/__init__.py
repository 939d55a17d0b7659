"""pristine's runnable side: command line, options, job graph, stats and evaluations."""

import logging


class _DropBeamGcpImportNotice(logging.Filter):
    """Beam logs 'apitools not found' on import when its GCP extras are absent (local runs): noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("apitools not found")


logging.getLogger().addFilter(_DropBeamGcpImportNotice())
