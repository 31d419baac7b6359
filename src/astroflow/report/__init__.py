"""Tables and figures of the report, made from saved artifacts alone."""
