from tunesmith.reports.build import build_document, write_report

__all__ = ["build_document", "write_report"]
