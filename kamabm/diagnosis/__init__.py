"""The consultant's diagnosis of one client: its file, its runs, its report and charts."""
