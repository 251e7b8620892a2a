"""The runs menu and dock, run curves, queue (sweep, compare) dialogs and the export dialog."""
